#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""svg_places.py WANT.svg GOT.svg - the nodes both diagrams draw stand at
the same places: each node's outline (its first shape) measured from the
corner of the pod's box (cluster_pod), as st_graph_positions() measures
it, so that a taller title or legend, which moves the whole drawing, does
not count.  Prints one line per node that moved and the number compared;
exits 1 when one moved or nothing could be compared.
"""
import re
import sys
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"
NUM = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?")
TOLERANCE = 0.5


def box(el):
    """The bounding box of one shape: min x, min y, max x, max y."""
    tag = el.tag[len(SVG):]
    if tag == "ellipse":
        cx, cy = float(el.get("cx")), float(el.get("cy"))
        rx, ry = float(el.get("rx")), float(el.get("ry"))
        return (cx - rx, cy - ry, cx + rx, cy + ry)
    text = el.get("d") if tag == "path" else el.get("points")
    nums = [float(n) for n in NUM.findall(text or "")]
    xs, ys = nums[0::2], nums[1::2]
    if not xs or not ys:
        return None
    return (min(xs), min(ys), max(xs), max(ys))


def outline(g):
    """The node's (or cluster's) outline: its first drawn shape."""
    for el in g.iter():
        if el.tag in (SVG + "path", SVG + "polygon", SVG + "ellipse"):
            return box(el)
    return None


def places(path):
    """{node id: (x, y, w, h)} from the pod box's top left corner."""
    nodes, pod = {}, None
    for g in ET.parse(path).getroot().iter(SVG + "g"):
        t = g.find(SVG + "title")
        if t is None:
            continue
        if g.get("class") == "cluster" and t.text == "cluster_pod":
            pod = outline(g)
        elif g.get("class") == "node":
            b = outline(g)
            if b is not None:
                nodes[t.text] = b
    if pod is None:
        sys.exit("%s: no pod box (cluster_pod)" % path)
    return {
        k: ((b[0] + b[2]) / 2 - pod[0], (b[1] + b[3]) / 2 - pod[1],
            b[2] - b[0], b[3] - b[1])
        for k, b in nodes.items()
    }


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: svg_places.py WANT.svg GOT.svg")
    want, got = places(sys.argv[1]), places(sys.argv[2])
    shared = sorted(set(want) & set(got))
    moved = 0
    for k in shared:
        if any(abs(a - b) > TOLERANCE for a, b in zip(want[k], got[k])):
            moved += 1
            print("%s: at %.1f,%.1f (%.0fx%.0f), want %.1f,%.1f (%.0fx%.0f)"
                  % ((k,) + got[k] + want[k]))
    print("%d shared nodes compared, %d moved" % (len(shared), moved))
    return 1 if moved or not shared else 0


if __name__ == "__main__":
    sys.exit(main())
