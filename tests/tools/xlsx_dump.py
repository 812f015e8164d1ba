#!/usr/bin/env python3
"""Dumps an .xlsx (a zip of XML) for tests/tools/test_xlsx.c, with the standard library only.

One line per fact, tab-separated:
  sheet  NAME  PANE      (PANE: "frozen:ySplit=1", or "none")
  col    NAME  N  WIDTH   (column N, 1-based)
  cell   NAME  REF  TYPE  FORMAT  BOLD  VALUE
TYPE is the cell's t attribute ("n" when absent: a number), FORMAT the number format code of
its style ("General" when none), BOLD 1 or 0, VALUE the shared string for t="s", else <v>.
"""
import sys
import xml.etree.ElementTree as ET
import zipfile

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
      "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships"}
BUILTIN = {0: "General", 1: "0", 2: "0.00", 3: "#,##0", 4: "#,##0.00", 9: "0%", 10: "0.00%",
           14: "m/d/yyyy", 22: "m/d/yyyy h:mm"}


def main(path):
    z = zipfile.ZipFile(path)
    strings = []
    if "xl/sharedStrings.xml" in z.namelist():
        for si in ET.fromstring(z.read("xl/sharedStrings.xml")).findall("m:si", NS):
            strings.append("".join(t.text or "" for t in si.iter("{%s}t" % NS["m"])))
    styles = ET.fromstring(z.read("xl/styles.xml"))
    codes = dict(BUILTIN)
    for nf in styles.findall("m:numFmts/m:numFmt", NS):
        codes[int(nf.get("numFmtId"))] = nf.get("formatCode")
    fonts = [1 if f.find("m:b", NS) is not None else 0 for f in styles.findall("m:fonts/m:font", NS)]
    xfs = [(int(x.get("numFmtId", 0)), int(x.get("fontId", 0))) for x in styles.findall("m:cellXfs/m:xf", NS)]
    wb = ET.fromstring(z.read("xl/workbook.xml"))
    rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    target = {r.get("Id"): r.get("Target") for r in rels}
    out = []
    for sh in wb.findall("m:sheets/m:sheet", NS):
        name = sh.get("name")
        ws = ET.fromstring(z.read("xl/" + target[sh.get("{%s}id" % NS["r"])]))
        pane = ws.find("m:sheetViews/m:sheetView/m:pane", NS)
        out.append("sheet\t%s\t%s" % (name, "frozen:ySplit=%s" % pane.get("ySplit")
                                      if pane is not None and pane.get("state") == "frozen" else "none"))
        for col in ws.findall("m:cols/m:col", NS):
            out.append("col\t%s\t%s\t%s" % (name, col.get("min"), col.get("width")))
        for f in ws.iter("{%s}f" % NS["m"]):
            out.append("formula\t%s\t%s" % (name, f.text))
        for c in ws.iter("{%s}c" % NS["m"]):
            t = c.get("t", "n")
            fmt_id, font_id = xfs[int(c.get("s", 0))]
            v = c.find("m:v", NS)
            val = v.text if v is not None else ""
            if t == "s":
                val = strings[int(val)]
            out.append("cell\t%s\t%s\t%s\t%s\t%d\t%s" % (name, c.get("r"), t, codes.get(fmt_id, str(fmt_id)),
                                                         fonts[font_id], val.replace("\t", "\\t").replace("\n", "\\n")))
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
