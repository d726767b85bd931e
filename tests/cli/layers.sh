#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# layers.sh BINARY SRCDIR - the stages include one way (doc/ARCHITECTURE.md).
#  - Each stage is built with exactly the include folders of the stages
#    below it (read from the build's compile_commands.json).
#  - An include against the direction fails to compile: every header of a
#    stage that is not below is included from a probe built with the
#    stage's own flags, and the compiler must refuse it.
#  - No include cycle between modules (X.c/X.h including Y.h makes X
#    depend on Y), inside a stage or across.
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
t_cli_args "$@"
db=$(dirname "$bin")/compile_commands.json
if [ ! -r "$db" ]; then
	echo "FAIL: no $db (configure with CMAKE_EXPORT_COMPILE_COMMANDS)"
	exit 1
fi

python3 - "$src" "$db" "$T_TMP" <<'EOF'
import json, os, re, shlex, subprocess, sys

src, db, tmp = sys.argv[1:4]
src = os.path.realpath(src)

# The design: each stage and the stages it may include, transitively.
BELOW = {
    "tracer/common": [],
    "tracer/rules": ["tracer/common"],
    "tracer/flow": ["tracer/rules", "tracer/common"],
    "tracer/source": ["tracer/flow", "tracer/rules", "tracer/common"],
    "tracer/target": ["tracer/flow", "tracer/rules", "tracer/common"],
    "render": ["tracer/flow", "tracer/rules", "tracer/common"],
    "tracer/jobs": ["tracer/source", "tracer/target", "tracer/flow",
                    "tracer/rules", "tracer/common"],
    "tracer/cli": ["tracer/jobs", "render", "tracer/source", "tracer/target",
                   "tracer/flow", "tracer/rules", "tracer/common"],
}
n = fail = 0


def check(ok, what):
    global n, fail
    n += 1
    if not ok:
        fail += 1
        print("FAIL " + what)


def stage_of(path):
    rel = os.path.relpath(os.path.realpath(path), src)
    d = os.path.dirname(rel)
    return d if d in BELOW else None


cmds = {}
for e in json.load(open(db)):
    st = stage_of(os.path.join(e["directory"], e["file"]))
    if st is not None and st not in cmds:
        cmds[st] = e
check(set(cmds) == set(BELOW),
      "stages built: %s, designed: %s" % (sorted(cmds), sorted(BELOW)))

for st, e in sorted(cmds.items()):
    argv = e["arguments"] if "arguments" in e else shlex.split(e["command"])
    quote = set()
    flags = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-iquote", "-I", "-isystem") and i + 1 < len(argv):
            flags += [a, argv[i + 1]]
            if a == "-iquote":
                rel = os.path.relpath(os.path.realpath(argv[i + 1]), src)
                quote.add(rel)
            i += 2
            continue
        if a.startswith("-D"):
            flags.append(a)
        i += 1
    want = set(BELOW[st]) | {st}
    check(quote == want, "%s: include folders %s, designed %s" %
          (st, sorted(quote), sorted(want)))
    # Every header of a stage not below must be out of reach, and (the
    # probe's own check) every header of a stage below within it.
    for other in BELOW:
        for h in sorted(os.listdir(os.path.join(src, other))):
            if not h.endswith(".h"):
                continue
            probe = os.path.join(tmp, "probe.c")
            with open(probe, "w") as f:
                f.write('#include "%s"\nint st_probe;\n' % h)
            # The probe lives outside the tree, so only the flags can
            # find a header; -M lists what was found (a system header of
            # the same name, e.g. <term.h>, is not ours).
            r = subprocess.run([argv[0]] + flags + ["-M", "-MG", probe],
                               capture_output=True, text=True)
            ours = os.path.realpath(os.path.join(src, other, h))
            found = any(os.path.realpath(w) == ours
                        for w in r.stdout.replace("\\\n", " ").split())
            if other in want:
                check(found, "%s cannot include %s/%s" % (st, other, h))
            else:
                check(not found,
                      "%s can include %s/%s against the direction" %
                      (st, other, h))

# Module include graph: no cycles.  A module is a public header X.h with
# X.c and the X-*.c files beside it; a private header P-int.h and the P-*.c
# files belong to the public header whose name begins with P (instr-int.h,
# instr-plan.c: instrument).
def module_of(st, stem):
    base = stem.split("-")[0]
    pub = sorted(f[:-2] for f in os.listdir(os.path.join(src, st))
                 if f.endswith(".h") and not f.endswith("-int.h"))
    if stem in pub:
        return os.path.join(st, stem)
    cands = [h for h in pub if h == base] or \
        sorted((h for h in pub if h.startswith(base)), key=len)
    return os.path.join(st, cands[0] if cands else stem)


mods = {}
for st in BELOW:
    for fn in os.listdir(os.path.join(src, st)):
        if not re.search(r"\.[ch]$", fn):
            continue
        mod = module_of(st, fn[:-2])
        deps = mods.setdefault(mod, set())
        for line in open(os.path.join(src, st, fn), errors="replace"):
            m = re.match(r'\s*#\s*include\s+"([^"]+)\.h"', line)
            if not m:
                continue
            for d in [st] + BELOW[st]:
                if os.path.exists(os.path.join(src, d, m.group(1) + ".h")):
                    target = module_of(d, m.group(1))
                    if target != mod:
                        deps.add(target)
                    break

state = {}


def visit(m, stack):
    state[m] = 1
    for d in sorted(mods.get(m, ())):
        if state.get(d) == 1:
            cyc = stack[stack.index(d):] + [d] if d in stack else [m, d]
            check(False, "include cycle: " + " -> ".join(cyc))
        elif d not in state:
            visit(d, stack + [d])
    state[m] = 2


for m in sorted(mods):
    if m not in state:
        visit(m, [m])
check(True, "cycles")
print("%d passed, %d failed" % (n - fail, fail))
sys.exit(1 if fail else 0)
EOF
