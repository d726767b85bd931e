#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Builds the fake /proc tree, fake network namespaces and crictl JSON used by
# tests/test_pod.c.  Output is committed; rerun after editing.
import os, json, shutil
# Regenerates tests/fakes/{proc,netns,cri}: python3 tests/fakes/mkfakes.py
root = os.path.dirname(os.path.abspath(__file__))
proc = os.path.join(root, 'proc')
shutil.rmtree(proc, ignore_errors=True)
shutil.rmtree(os.path.join(root, 'netns'), ignore_errors=True)
shutil.rmtree(os.path.join(root, 'cri'), ignore_errors=True)
os.makedirs(os.path.join(root, 'netns'))
os.makedirs(os.path.join(root, 'cri'))
for n in ['host', 'pod-a', 'pod-b', 'pod-c1', 'pod-c2', 'pod-e', 'pod-gw', 'pod-r', 'pod-d', 'pod-h', 'pod-n', 'pod-z']:
    with open(os.path.join(root, 'netns', n), 'w') as f:
        f.write('fake network namespace "%s": its inode is its identity\n' % n)

PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
def proxy_env(name, ns, ip, sa, mode, extra=()):
    return [PATH, 'HOSTNAME=' + name, 'PILOT_CERT_PROVIDER=istiod',
            'CA_ADDR=istiod.istio-system.svc:15012', 'POD_NAME=' + name,
            'POD_NAMESPACE=' + ns, 'INSTANCE_IP=' + ip,
            'SERVICE_ACCOUNT=' + sa, 'HOST_IP=192.168.49.2',
            'ISTIO_CPU_LIMIT=2', 'PROXY_CONFIG={}',
            'ISTIO_META_POD_PORTS=[{"containerPort":9080,"protocol":"TCP"}]',
            'ISTIO_META_APP_CONTAINERS=' + name.split('-')[0],
            'GOMEMLIMIT=1073741824', 'GOMAXPROCS=2',
            'ISTIO_META_CLUSTER_ID=Kubernetes', 'ISTIO_META_NODE_NAME=node-1',
            'ISTIO_META_INTERCEPTION_MODE=' + mode,
            'ISTIO_META_WORKLOAD_NAME=' + name.rsplit('-', 1)[0],
            'ISTIO_META_OWNER=kubernetes://apis/apps/v1/namespaces/%s/deployments/%s' % (ns, name.rsplit('-', 1)[0]),
            'ISTIO_META_MESH_ID=cluster.local', 'TRUST_DOMAIN=cluster.local',
            'HOME=/home/istio-proxy'] + list(extra)

AGENT = ['/usr/local/bin/pilot-agent', 'proxy', 'sidecar', '--domain',
         'default.svc.cluster.local', '--proxyLogLevel=warning',
         '--proxyComponentLogLevel=misc:error', '--log_output_level=default:info']
ENVOY = ['/usr/local/bin/envoy', '-c', 'etc/istio/proxy/envoy-rev.json',
         '--drain-time-s', '45', '--drain-strategy', 'immediate',
         '--local-address-ip-version', 'v4', '--file-flush-interval-msec',
         '1000', '--disable-hot-restart', '--allow-unknown-static-fields',
         '-l', 'warning', '--component-log-level', 'misc:error']

def proc_entry(pid, comm, cmdline, env, netns, environ_raw=None, env_is_dir=False):
    d = os.path.join(proc, str(pid))
    os.makedirs(os.path.join(d, 'ns'))
    if comm is not None:
        with open(os.path.join(d, 'comm'), 'w') as f:
            f.write(comm + '\n')
    if cmdline is not None:
        with open(os.path.join(d, 'cmdline'), 'wb') as f:
            f.write(b''.join(a.encode() + b'\0' for a in cmdline))
    if env_is_dir:
        # a directory reads as EISDIR; the file inside keeps it in git
        os.makedirs(os.path.join(d, 'environ'))
        with open(os.path.join(d, 'environ', 'keep'), 'w') as f:
            f.write('environ is a directory here: unreadable\n')
    elif environ_raw is not None:
        with open(os.path.join(d, 'environ'), 'wb') as f:
            f.write(environ_raw)
    elif env is not None:
        with open(os.path.join(d, 'environ'), 'wb') as f:
            f.write(b''.join(e.encode() + b'\0' for e in env))
    if netns is not None:
        os.symlink('../../../netns/' + netns, os.path.join(d, 'ns', 'net'))

# the node
proc_entry(1, 'systemd', ['/sbin/init'], ['HOME=/', 'TERM=linux'], 'host')
proc_entry(2, 'kthreadd', [], [], 'host')
# pod A: default/productpage-v1-abc (pause, app with downward-API names, agent, envoy)
proc_entry(80, 'pause', ['/pause'], [PATH], 'pod-a')
proc_entry(90, 'python', ['python', 'productpage.py', '9080'],
           [PATH, 'POD_NAME=productpage-v1-abc', 'POD_NAMESPACE=default',
            'HOME=/root'], 'pod-a')
env_a = proxy_env('productpage-v1-abc', 'default', '10.244.1.10',
                  'bookinfo-productpage', 'REDIRECT')
proc_entry(100, 'pilot-agent', AGENT, env_a, 'pod-a')
proc_entry(120, 'envoy', ENVOY, env_a, 'pod-a')
# pod B: bookinfo/reviews-v2-xyz, TPROXY, IPv6 pod IP; envoy has the lower pid
env_b = proxy_env('reviews-v2-xyz', 'bookinfo', 'fd00:244::1:20',
                  'bookinfo-reviews', 'TPROXY')
proc_entry(199, 'envoy', ENVOY, env_b, 'pod-b')
proc_entry(200, 'pilot-agent', AGENT, env_b, 'pod-b')
# pod C: default/dup-pod in two network namespaces (a stand-in without
# pilot-agent/envoy names: ISTIO_META_* makes it a proxy)
env_c = [PATH, 'POD_NAME=dup-pod', 'POD_NAMESPACE=default',
         'INSTANCE_IP=10.244.1.40', 'ISTIO_META_INTERCEPTION_MODE=REDIRECT']
proc_entry(300, 'st-sidecar', ['/opt/st/st-sidecar', '--pod-ip', '10.244.1.40'], env_c, 'pod-c1')
proc_entry(310, 'st-sidecar', ['/opt/st/st-sidecar', '--pod-ip', '10.244.1.41'], env_c, 'pod-c2')
# pod GW: a gateway (pilot-agent proxy router): not a sidecar
env_gw = proxy_env('istio-ingressgateway-7d4b9', 'istio-system', '10.244.1.50',
                   'istio-ingressgateway-service-account', 'REDIRECT')
proc_entry(400, 'pilot-agent', ['/usr/local/bin/pilot-agent', 'proxy', 'router',
           '--domain', 'istio-system.svc.cluster.local'], env_gw, 'pod-gw')
proc_entry(401, 'envoy', ENVOY, env_gw, 'pod-gw')
# pod E: an application with downward-API names and no sidecar
proc_entry(500, 'nginx', ['nginx: master process nginx -g daemon off;'],
           [PATH, 'POD_NAME=plain-app', 'POD_NAMESPACE=default'], 'pod-e')
# hostile names and values
proc_entry(600, 'envoy', ENVOY, None, 'pod-e',
           environ_raw=b'POD_NAME=Bad_Name\x1b[31m\0POD_NAMESPACE=default\0ISTIO_META_X=1\0')
proc_entry(610, 'envoy', ENVOY, None, 'pod-e',
           environ_raw=b'POD_NAME=ok-name\0POD_NAMESPACE=-bad-\0ISTIO_META_X=1\0')
proc_entry(620, 'pilot-agent', AGENT, None, 'pod-h',
           environ_raw=b'POD_NAME=odd-values\0POD_NAMESPACE=default\0'
                       b'INSTANCE_IP=10.0.0.1;rm -rf /\0'
                       b'ISTIO_META_INTERCEPTION_MODE=redirect\x1b]0;x\x07\0'
                       b'SERVICE_ACCOUNT=UPPER\0'
                       b'POD_NAME=second-name-ignored\0'
                       b'INSTANCE_IP')   # cut off: no NUL, ignored
# vanished (no environ, no ns) and unreadable (environ is a directory)
proc_entry(700, 'sleep', None, None, None)
proc_entry(710, 'envoy', ENVOY, None, 'pod-e', env_is_dir=True)
# a sidecar in the node's own network namespace
proc_entry(800, 'pilot-agent', AGENT,
           proxy_env('hostnet-proxy', 'kube-system', '192.168.49.2',
                     'default', 'REDIRECT'), 'host')
# pod N: default/ratings-v1-native, istio-proxy as a native sidecar (an
# init container with restartPolicy Always): the same processes as ever
env_n = proxy_env('ratings-v1-native', 'default', '10.244.1.70',
                  'bookinfo-ratings', 'REDIRECT')
proc_entry(1000, 'pause', ['/pause'], [PATH], 'pod-n')
proc_entry(1010, 'pilot-agent', AGENT, env_n, 'pod-n')
proc_entry(1020, 'envoy', ENVOY, env_n, 'pod-n')
# ztunnel's own pod: not a sidecar pod, whatever its environment says
proc_entry(1100, 'ztunnel', ['/usr/local/bin/ztunnel', 'proxy', 'ztunnel'],
           proxy_env('ztunnel-x7k2p', 'istio-system', '10.244.1.80',
                     'ztunnel', 'REDIRECT'), 'pod-z')
# not a pid
for d in ['self-not-a-pid', '0123']:
    os.makedirs(os.path.join(proc, d))
    with open(os.path.join(proc, d, 'comm'), 'w') as f:
        f.write('not a pid directory\n')

# ---- crictl -----------------------------------------------------------
STATUS = json.dumps({"initContainers": ["istio-init"], "containers": ["istio-proxy"],
                     "volumes": ["workload-socket", "credential-socket", "workload-certs",
                                 "istio-envoy", "istio-data", "istio-podinfo", "istio-token",
                                 "istiod-ca-cert"], "imagePullSecrets": None, "revision": "default"})
# Since Istio 1.27 (native sidecars) istio-proxy is injected among the
# init containers, and the status annotation lists it there.
STATUS_NATIVE = json.dumps({"initContainers": ["istio-validation", "istio-proxy"], "containers": None,
                            "volumes": ["workload-socket", "credential-socket", "workload-certs",
                                        "istio-envoy", "istio-data", "istio-podinfo", "istio-token",
                                        "istiod-ca-cert"], "imagePullSecrets": None, "revision": "default"})
def sandbox_id(c):
    return (c * 64)[:64]
def pod_item(sid, name, ns, uid, state, injected, attempt=0, mode=None, native=False):
    ann = {"kubernetes.io/config.seen": "2026-11-26T06:00:00.000000000Z",
           "kubernetes.io/config.source": "api"}
    if injected:
        ann["istio.io/rev"] = "default"
        ann["kubectl.kubernetes.io/default-container"] = name.split('-')[0]
        ann["prometheus.io/path"] = "/stats/prometheus"
        ann["prometheus.io/port"] = "15020"
        ann["prometheus.io/scrape"] = "true"
        ann["sidecar.istio.io/status"] = STATUS_NATIVE if native else STATUS
        if mode:
            ann["sidecar.istio.io/interceptionMode"] = mode
    labels = {"app": name.split('-')[0], "io.kubernetes.pod.name": name,
              "io.kubernetes.pod.namespace": ns, "io.kubernetes.pod.uid": uid,
              "pod-template-hash": "5b4c8d7f9"}
    if injected:
        labels["security.istio.io/tlsMode"] = "istio"
        labels["service.istio.io/canonical-name"] = name.split('-')[0]
        labels["service.istio.io/canonical-revision"] = "v1"
    return {"id": sid, "metadata": {"name": name, "uid": uid, "namespace": ns, "attempt": attempt},
            "state": state, "createdAt": "1795672800123456789", "labels": labels,
            "annotations": ann, "runtimeHandler": ""}

pods = [
    pod_item(sandbox_id('a1'), 'productpage-v1-abc', 'default', '2f6c1a5e-0a7e-4b1d-9a55-6f0f3b1c8a01', 'SANDBOX_READY', True),
    pod_item(sandbox_id('b2'), 'reviews-v2-xyz', 'bookinfo', '7b1d3c44-5e21-4c1f-8d0a-0c2e9f6b7a02', 'SANDBOX_READY', True),
    pod_item(sandbox_id('c3'), 'ratings-v1-cri', 'default', '9d0e1f22-3a4b-4c5d-8e6f-7a8b9c0d1e03', 'SANDBOX_READY', True, mode='TPROXY'),
    pod_item(sandbox_id('d4'), 'details-v1-old', 'default', 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c04', 'SANDBOX_READY', True),
    pod_item(sandbox_id('e5'), 'plain-app', 'default', 'b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d05', 'SANDBOX_READY', False),
    pod_item(sandbox_id('f6'), 'productpage-v1-abc', 'default', '2f6c1a5e-0a7e-4b1d-9a55-6f0f3b1c8a01', 'SANDBOX_NOTREADY', True),
    pod_item('--help', 'evil-id', 'default', 'c3d4e5f6-a7b8-4c9d-8e0f-2a3b4c5d6e06', 'SANDBOX_READY', True),
    pod_item(sandbox_id('a7'), 'ratings-v1-native', 'default', 'd4e5f6a7-b8c9-4d0e-9f1a-3b4c5d6e7f07', 'SANDBOX_READY', True, native=True),
]
with open(os.path.join(root, 'cri', 'pods.json'), 'w') as f:
    json.dump({"items": pods}, f, indent=2)
    f.write('\n')

def inspect(item, ip, pid, netns_path, old=False):
    sid = item["id"]; md = item["metadata"]
    status = {"id": sid, "metadata": md, "state": item["state"],
              "createdAt": "2026-11-26T06:00:00.123456789Z",
              "network": {"additionalIps": [], "ip": ip},
              "linux": {"namespaces": {"options": {"ipc": "POD", "network": "POD", "pid": "CONTAINER", "targetId": ""}}},
              "labels": item["labels"], "annotations": item["annotations"], "runtimeHandler": ""}
    nss = [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]
    if netns_path is not None:
        nss.append({"type": "network", "path": netns_path})
    else:
        nss.append({"type": "network"})
    spec = {"ociVersion": "1.1.0",
            "process": {"user": {"uid": 65535, "gid": 65535, "additionalGids": [65535]},
                        "args": ["/pause"], "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                        "cwd": "/", "capabilities": {"bounding": [], "effective": [], "permitted": []},
                        "noNewPrivileges": True, "oomScoreAdj": -998},
            "root": {"path": "rootfs", "readonly": True},
            "hostname": md["name"],
            "mounts": [{"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}],
            "annotations": {"io.kubernetes.cri.container-type": "sandbox",
                            "io.kubernetes.cri.sandbox-id": sid,
                            "io.kubernetes.cri.sandbox-name": md["name"],
                            "io.kubernetes.cri.sandbox-namespace": md["namespace"],
                            "io.kubernetes.cri.sandbox-uid": md["uid"]},
            "linux": {"resources": {"devices": [{"allow": False, "access": "rwm"}], "cpu": {"shares": 2}},
                      "cgroupsPath": "kubepods-besteffort-pod.slice:cri-containerd:" + sid,
                      "namespaces": nss,
                      "seccomp": {"defaultAction": "SCMP_ACT_ERRNO"},
                      "maskedPaths": ["/proc/acpi"], "readonlyPaths": ["/proc/bus"]}}
    info = {"pid": pid, "processStatus": "running", "netNamespaceClosed": False,
            "image": "registry.k8s.io/pause:3.10", "snapshotKey": sid,
            "snapshotter": "overlayfs", "runtimeHandler": "",
            "runtimeType": "io.containerd.runc.v2",
            "runtimeOptions": {"systemd_cgroup": True},
            "config": {"metadata": md, "hostname": md["name"], "log_directory":
                       "/var/log/pods/%s_%s_%s" % (md["namespace"], md["name"], md["uid"]),
                       "dns_config": {"servers": ["10.96.0.10"], "searches": ["default.svc.cluster.local", "svc.cluster.local", "cluster.local"], "options": ["ndots:5"]},
                       "labels": item["labels"], "annotations": item["annotations"],
                       "linux": {"cgroup_parent": "kubepods-besteffort-pod.slice",
                                 "security_context": {"namespace_options": {"pid": 1}}}},
            "runtimeSpec": spec}
    if old:
        # containerd 1.0: the path is info.netNamespace, no network entry
        del spec["linux"]["namespaces"][-1]
        info["netNamespace"] = netns_path
    return {"status": status, "info": info}

insp = [
    (pods[0], '10.244.1.10', 80, '@FAKES@/netns/pod-a', False),
    (pods[1], 'fd00:244::1:20', 200, None, False),          # no path: /proc/200/ns/net
    (pods[2], '10.244.1.30', 900, '@FAKES@/netns/pod-r', False),  # not in /proc
    (pods[3], '10.244.1.31', 0, '@FAKES@/netns/pod-d', True),     # old containerd
    (pods[4], '10.244.1.60', 500, '@FAKES@/netns/pod-e', False),
    (pods[7], '10.244.1.70', 1000, '@FAKES@/netns/pod-n', False),
]
for item, ip, pid, path, old in insp:
    with open(os.path.join(root, 'cri', 'inspectp-%s.json' % item["id"]), 'w') as f:
        json.dump(inspect(item, ip, pid, path, old), f, indent=2)
        f.write('\n')
