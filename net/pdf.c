/*
 * pdf.c — the credit report as PDF (GET /report/{code}.pdf): the item list site.c builds from
 * the public answers (CX_DOC_*, net_int.h), laid out on A4 pages with pango (line breaking of
 * Chinese text, font fallback through fontconfig) and written by cairo's PDF surface, which
 * embeds subsets of the system fonts (Debian fonts-noto-cjk: "Noto Sans CJK SC"). No font
 * file ships with the project.
 *
 * Cost: about 30-60 ms for a report of a few records on the loop thread that asked (measured
 * with curl on a 2-core machine under load; most of it is font loading and subsetting), the
 * first report of a process a little more (fontconfig's start); a report lists at most
 * REPORT_MAX records (site.c), which bounds it.
 */
#include <stdio.h>
#include <string.h>

#include <cairo-pdf.h>
#include <cairo.h>
#include <pango/pangocairo.h>

#include "net_int.h"

#define PAGE_W 595.0 /* A4 in points */
#define PAGE_H 842.0
#define MARGIN 50.0
#define LABEL_W 115.0
#define FONT "Noto Sans CJK SC, Noto Sans SC, sans-serif"

static cairo_status_t write_cb(void *ud, const unsigned char *p, unsigned int n) {
  return cx_buf_append(ud, p, n) ? CAIRO_STATUS_WRITE_ERROR : CAIRO_STATUS_SUCCESS;
}

typedef struct pdf {
  cairo_t *cr;
  cairo_surface_t *sf;
  PangoLayout *lay;
  PangoFontDescription *fd[4]; /* body, small, h2, title */
  double y;
  int page;
  const char *title;
} pdf;

static void footer(pdf *d) {
  char b[64];
  snprintf(b, sizeof b, "第 %d 页", d->page);
  pango_layout_set_font_description(d->lay, d->fd[1]);
  pango_layout_set_width(d->lay, (int)((PAGE_W - 2 * MARGIN) * PANGO_SCALE));
  pango_layout_set_alignment(d->lay, PANGO_ALIGN_CENTER);
  pango_layout_set_text(d->lay, b, -1);
  cairo_set_source_rgb(d->cr, 0.3, 0.3, 0.3);
  cairo_move_to(d->cr, MARGIN, PAGE_H - MARGIN + 18);
  pango_cairo_show_layout(d->cr, d->lay);
  pango_layout_set_alignment(d->lay, PANGO_ALIGN_LEFT);
}

static void new_page(pdf *d) {
  footer(d);
  cairo_show_page(d->cr);
  d->page++;
  d->y = MARGIN;
}

/* Lays text out at x with width w in font f; returns its height (does not draw). */
static double measure(pdf *d, const char *t, size_t n, int f, double w) {
  pango_layout_set_font_description(d->lay, d->fd[f]);
  pango_layout_set_width(d->lay, (int)(w * PANGO_SCALE));
  pango_layout_set_wrap(d->lay, PANGO_WRAP_WORD_CHAR);
  pango_layout_set_text(d->lay, t, (int)n);
  int pw, ph;
  pango_layout_get_size(d->lay, &pw, &ph);
  return (double)ph / PANGO_SCALE;
}

static void draw(pdf *d, double x) {
  cairo_move_to(d->cr, x, d->y);
  pango_cairo_show_layout(d->cr, d->lay);
}

static void block(pdf *d, const char *t, size_t n, int f, double before, double r, double g, double b) {
  double h = measure(d, t, n, f, PAGE_W - 2 * MARGIN);
  if (d->y + before + h > PAGE_H - MARGIN) new_page(d);
  else d->y += before;
  cairo_set_source_rgb(d->cr, r, g, b);
  draw(d, MARGIN);
  d->y += h;
}

static void field(pdf *d, const char *l, size_t ll, const char *t, size_t tn) {
  double w = PAGE_W - 2 * MARGIN - LABEL_W;
  double hl = measure(d, l, ll, 0, LABEL_W - 8);
  double ht = measure(d, t, tn, 0, w);
  double h = ht > hl ? ht : hl;
  if (d->y + h + 3 > PAGE_H - MARGIN) new_page(d);
  d->y += 3;
  cairo_set_source_rgb(d->cr, 0.1, 0.1, 0.1);
  draw(d, MARGIN + LABEL_W); /* the layout holds the text */
  measure(d, l, ll, 0, LABEL_W - 8);
  cairo_set_source_rgb(d->cr, 0.3, 0.3, 0.3);
  draw(d, MARGIN);
  d->y += h;
}

int cx__site_pdf(const char *doc, size_t n, const char *title, const char *day, cx_buf *out) {
  pdf d;
  memset(&d, 0, sizeof d);
  d.sf = cairo_pdf_surface_create_for_stream(write_cb, out, PAGE_W, PAGE_H);
  if (cairo_surface_status(d.sf)) {
    cairo_surface_destroy(d.sf);
    return CX_ENOMEM;
  }
  cairo_pdf_surface_set_metadata(d.sf, CAIRO_PDF_METADATA_TITLE, title);
  cairo_pdf_surface_set_metadata(d.sf, CAIRO_PDF_METADATA_CREATOR, "chengxind");
  char date[40];
  snprintf(date, sizeof date, "%sT00:00:00+08:00", day); /* the as-of day: the same bytes all day */
  cairo_pdf_surface_set_metadata(d.sf, CAIRO_PDF_METADATA_CREATE_DATE, date);
  d.cr = cairo_create(d.sf);
  d.lay = pango_cairo_create_layout(d.cr);
  static const int sizes[4] = {10, 8, 13, 20};
  for (int i = 0; i < 4; i++) {
    d.fd[i] = pango_font_description_from_string(FONT);
    pango_font_description_set_size(d.fd[i], sizes[i] * PANGO_SCALE);
    if (i >= 2) pango_font_description_set_weight(d.fd[i], PANGO_WEIGHT_BOLD);
  }
  d.title = title;
  d.page = 1;
  d.y = MARGIN;
  for (size_t at = 0; at + 3 <= n;) {
    const unsigned char *p = (const unsigned char *)doc + at;
    int kind = p[0];
    size_t ll = (size_t)p[1] << 8 | p[2];
    const char *label = (const char *)p + 3;
    const unsigned char *q = p + 3 + ll;
    size_t tl = (size_t)q[0] << 24 | (size_t)q[1] << 16 | (size_t)q[2] << 8 | q[3];
    const char *text = (const char *)q + 4;
    at += 3 + ll + 4 + tl;
    switch (kind) {
    case CX_DOC_TITLE:
      pango_layout_set_alignment(d.lay, PANGO_ALIGN_CENTER);
      block(&d, text, tl, 3, 0, 0.55, 0.1, 0.1);
      pango_layout_set_alignment(d.lay, PANGO_ALIGN_LEFT);
      d.y += 10;
      break;
    case CX_DOC_META: field(&d, label, ll, text, tl); break;
    case CX_DOC_H2:
      block(&d, text, tl, 2, 14, 0.04, 0.31, 0.54);
      cairo_set_source_rgb(d.cr, 0.04, 0.31, 0.54);
      cairo_set_line_width(d.cr, 0.8);
      cairo_move_to(d.cr, MARGIN, d.y + 2);
      cairo_line_to(d.cr, PAGE_W - MARGIN, d.y + 2);
      cairo_stroke(d.cr);
      d.y += 4;
      break;
    case CX_DOC_REC:
      d.y += 6;
      if (tl) {
        char b[600];
        int k = snprintf(b, sizeof b, "%.*s：%.*s", (int)ll, label, (int)tl, text);
        block(&d, b, k > 0 && (size_t)k < sizeof b ? (size_t)k : strlen(b), 0, 4, 0.04, 0.31, 0.54);
      }
      break;
    case CX_DOC_FIELD: field(&d, label, ll, text, tl); break;
    default: block(&d, text, tl, ll ? 2 : 0, ll ? 8 : 4, 0.1, 0.1, 0.1);
    }
  }
  footer(&d);
  cairo_show_page(d.cr);
  for (int i = 0; i < 4; i++) pango_font_description_free(d.fd[i]);
  g_object_unref(d.lay);
  cairo_destroy(d.cr);
  cairo_surface_finish(d.sf);
  int bad = cairo_surface_status(d.sf) != CAIRO_STATUS_SUCCESS;
  cairo_surface_destroy(d.sf);
  return bad || out->failed ? CX_ENOMEM : 0;
}
