#!/usr/bin/env python3
"""check_metrics.py - checks Prometheus text exposition (format 0.0.4) from
`seedmesh node --metrics` strictly, and compares scrapes over time.

usage: check_metrics.py SCRAPE [LATER_SCRAPE]
       check_metrics.py --value SCRAPE 'name{labels}'   (prints one sample)
Checks: every line is a HELP, a TYPE or a sample; every family has one HELP
and one TYPE before its samples; every sample belongs to a declared family
(names prefixed seedmesh_, counters end in _total); label sets are well
formed and unique per family; values parse as numbers (counters and gauges
here are never negative). With a later scrape: the same families, and no
counter went down. Prints the number of families and samples; exit 1 with
the first problem otherwise."""
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r"^(%s)(\{(?:%s(?:,%s)*)?\})? (\S+)$" % (NAME, LABEL, LABEL))
HELP = re.compile(r"^# HELP (%s) (.*)$" % NAME)
TYPE = re.compile(r"^# TYPE (%s) (counter|gauge|histogram|summary|untyped)$" % NAME)


def parse(path):
    text = open(path, encoding="utf-8").read()
    if not text.endswith("\n"):
        raise ValueError("%s: does not end with a newline" % path)
    helps, types, samples = {}, {}, {}
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = "%s:%d" % (path, n)
        m = HELP.match(line)
        if m:
            if m.group(1) in helps:
                raise ValueError("%s: second HELP for %s" % (where, m.group(1)))
            helps[m.group(1)] = m.group(2)
            continue
        m = TYPE.match(line)
        if m:
            name, kind = m.group(1), m.group(2)
            if name in types:
                raise ValueError("%s: second TYPE for %s" % (where, name))
            if name not in helps:
                raise ValueError("%s: TYPE before HELP for %s" % (where, name))
            if not name.startswith("seedmesh_"):
                raise ValueError("%s: %s lacks the seedmesh_ prefix" % (where, name))
            if kind == "counter" and not name.endswith("_total"):
                raise ValueError("%s: counter %s does not end in _total" % (where, name))
            types[name] = kind
            continue
        if line.startswith("#"):
            raise ValueError("%s: unexpected comment %r" % (where, line))
        m = SAMPLE.match(line)
        if not m:
            raise ValueError("%s: not a sample line: %r" % (where, line))
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        if name not in types:
            raise ValueError("%s: sample %s of no declared family" % (where, name))
        try:
            v = float(value)
        except ValueError:
            raise ValueError("%s: value %r is not a number" % (where, value))
        if v < 0 or v != v:
            raise ValueError("%s: value %r is negative or NaN" % (where, value))
        key = name + labels
        if key in samples:
            raise ValueError("%s: duplicate series %s" % (where, key))
        samples[key] = (types[name], v)
    for name in helps:
        if name not in types:
            raise ValueError("%s: HELP without TYPE for %s" % (path, name))
    return types, samples


def main():
    args = sys.argv[1:]
    try:
        if args[:1] == ["--value"]:
            _, samples = parse(args[1])
            print("%d" % samples[args[2]][1] if args[2] in samples else "missing")
            return 0
        types, samples = parse(args[0])
        print("%s: %d families, %d samples, all well formed" % (args[0], len(types), len(samples)))
        if len(args) > 1:
            types2, samples2 = parse(args[1])
            if set(types) != set(types2):
                raise ValueError("families differ between scrapes: %s"
                                 % sorted(set(types) ^ set(types2)))
            for key, (kind, v) in samples.items():
                if kind == "counter" and key in samples2 and samples2[key][1] < v:
                    raise ValueError("counter %s went down: %g -> %g" % (key, v, samples2[key][1]))
            print("%s: no counter went down since %s" % (args[1], args[0]))
    except (ValueError, IndexError, OSError) as e:
        print("check_metrics: %s" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
