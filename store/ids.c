/*
 * ids.c — unified social credit codes (GB 32100-2015), resident identity numbers (GB 11643),
 * typed identifiers of persons without one (passports, permits, permanent-residence cards),
 * ID masking and name normalisation for prefix search.
 */
#include "store.h"

int cx__day_valid_ymd(int y, int m, int d); /* days.c */

/* ===================================================================== USCC */

/* The 31 symbols in value order: 0-9 then A-Y without I O Z S V. */
static const char uscc_alpha[31] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
static const unsigned char uscc_weight[17] = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};

/* Value 0..30 of an upper-case USCC symbol, or -1: a table, since a check reads 35 of them (a
 * switch per symbol was 4 % of the check path's instructions). */
#define V1_(c, v) [(unsigned char)(c)] = (v) + 1
static const signed char uscc_val1[256] = { /* value + 1: 0 = not a symbol */
    V1_('0', 0), V1_('1', 1), V1_('2', 2), V1_('3', 3), V1_('4', 4), V1_('5', 5), V1_('6', 6), V1_('7', 7),
    V1_('8', 8), V1_('9', 9), V1_('A', 10), V1_('B', 11), V1_('C', 12), V1_('D', 13), V1_('E', 14),
    V1_('F', 15), V1_('G', 16), V1_('H', 17), V1_('J', 18), V1_('K', 19), V1_('L', 20), V1_('M', 21),
    V1_('N', 22), V1_('P', 23), V1_('Q', 24), V1_('R', 25), V1_('T', 26), V1_('U', 27), V1_('W', 28),
    V1_('X', 29), V1_('Y', 30)};
#undef V1_
static inline int uscc_value(char c) { return uscc_val1[(unsigned char)c] - 1; }

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

static char upper(char c) { return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c; }

/* Trims ASCII whitespace; copies up to 18 upper-cased bytes into buf. Returns the trimmed length. */
static size_t trim_upper(const char *s, size_t n, char buf[CX_CODE_LEN]) {
  if (!s) return 0;
  while (n && is_space(s[0])) s++, n--;
  while (n && is_space(s[n - 1])) n--;
  if (n == CX_CODE_LEN)
    for (size_t i = 0; i < n; i++) buf[i] = upper(s[i]);
  return n;
}

char cx_uscc_check_char(const char code17[17]) {
  unsigned sum = 0;
  for (int i = 0; i < 17; i++) {
    int v = uscc_value(upper(code17[i]));
    sum += (unsigned)(v < 0 ? 0 : v) * uscc_weight[i];
  }
  return uscc_alpha[(31 - sum % 31) % 31];
}

/* Position 2 (institution type) admitted after each position 1 (registration authority), from
 * GB 32100-2015 Annex A as amended (XG1-2016 added A and N), plus 5-4: the 民政 code of
 * 村民委员会 / 居民委员会 (基层群众性自治组织特别法人), issued since 2017 under the 民法总则 though
 * the table has no row for it. Y (other authorities) has the one type 1. */
static const char *uscc_types(char authority) {
  switch (authority) {
  case '1': return "1239"; /* 机构编制: 机关, 事业单位, 中央编办直管的群众团体, 其他 */
  case '2': return "19";   /* 外交: 外国常驻新闻机构, 其他 */
  case '3': return "123459"; /* 司法行政: 律师执业机构, 公证处, 基层法律服务所, 司法鉴定机构, 仲裁委员会, 其他 */
  case '4': return "19";   /* 文化: 外国在华文化中心, 其他 */
  case '5': return "12349"; /* 民政: 社会团体, 民办非企业单位, 基金会, (村/居委会), 其他 */
  case '6': return "129";  /* 旅游: 外国 / 港澳台旅游部门常驻代表机构, 其他 */
  case '7': return "129";  /* 宗教: 宗教活动场所, 宗教院校, 其他 */
  case '8': return "19";   /* 工会: 基层工会, 其他 */
  case '9': return "123";  /* 工商: 企业, 个体工商户, 农民专业合作社 */
  case 'A': return "19";   /* 中央军委改革和编制办公室: 军队事业单位, 其他 */
  case 'N': return "1239"; /* 农业: 组级, 村级, 乡镇级集体经济组织, 其他 */
  case 'Y': return "1";    /* 其他 */
  default: return NULL;
  }
}

/* The provincial-level codes of GB/T 2260 (the first two digits of a region code). */
static int is_province(int p) {
  switch (p) {
  case 11: case 12: case 13: case 14: case 15:
  case 21: case 22: case 23:
  case 31: case 32: case 33: case 34: case 35: case 36: case 37:
  case 41: case 42: case 43: case 44: case 45: case 46:
  case 50: case 51: case 52: case 53: case 54:
  case 61: case 62: case 63: case 64: case 65:
  case 71: case 81: case 82:
    return 1;
  default: return 0;
  }
}

/* GB 11714 character value: digits 0-9, letters A-Z 10-35 (the organisation code's alphabet
 * is wider than the USCC's; inside a USCC only the USCC letters occur). */
static int org_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  return -1;
}

char cx_orgcode_check_char(const char org8[8]) {
  static const unsigned char w[8] = {3, 7, 9, 10, 5, 8, 4, 2};
  unsigned sum = 0;
  for (int i = 0; i < 8; i++) {
    int v = org_value(upper(org8[i]));
    sum += (unsigned)(v < 0 ? 0 : v) * w[i];
  }
  unsigned c = 11 - sum % 11; /* 1..11 */
  return c == 10 ? 'X' : c == 11 ? '0' : (char)('0' + c);
}

/* Checks an upper-cased 18-byte candidate, position by position from the left. */
/* One pass computes the symbols' values and the check character's sum (every check reads a
 * code: three passes and a call per symbol were ~650 instructions of a check's ~10,000). The
 * order of the verdicts is the positions': alphabet, authority and type, region, organisation
 * code, check character. */
static int uscc_check(const char c[CX_CODE_LEN]) {
  unsigned sum = 0;
  int bad = uscc_val1[(unsigned char)c[17]] == 0;
  for (int i = 0; i < 17; i++) {
    int v1 = uscc_val1[(unsigned char)c[i]];
    bad |= v1 == 0;
    sum += (unsigned)(v1 ? v1 - 1 : 0) * uscc_weight[i];
  }
  if (bad) return CX_EALPHABET;
  const char *types = uscc_types(c[0]);
  if (!types || !strchr(types, c[1])) return CX_EREGAUTH;
  for (int i = 2; i < 8; i++)
    if (c[i] < '0' || c[i] > '9') return CX_EREGION;
  /* A province's code, or 100000: the state (national registration authorities). */
  if (!is_province((c[2] - '0') * 10 + (c[3] - '0')) && memcmp(c + 2, "100000", 6) != 0) return CX_EREGION;
  /* positions 9-17, the organisation code (GB 11714): every symbol is a digit or an upper-case
   * letter here, whose GB 11714 value is its digit or 10 + its place in A-Z */
  static const unsigned char ow[8] = {3, 7, 9, 10, 5, 8, 4, 2};
  unsigned osum = 0;
  for (int i = 0; i < 8; i++) {
    char ch = c[8 + i];
    osum += (unsigned)(ch <= '9' ? ch - '0' : ch - 'A' + 10) * ow[i];
  }
  unsigned oc = 11 - osum % 11; /* 1..11 */
  if ((oc == 10 ? 'X' : oc == 11 ? '0' : (char)('0' + oc)) != c[16]) return CX_EORGCODE;
  if (uscc_alpha[(31 - sum % 31) % 31] != c[17]) return CX_ECHECKSUM;
  return 0;
}

int cx_uscc_normalize(const char *s, size_t n, char out[CX_CODE_LEN + 1]) {
  char buf[CX_CODE_LEN];
  if (trim_upper(s, n, buf) != CX_CODE_LEN) return CX_ELENGTH;
  int rc = uscc_check(buf);
  if (rc) return rc;
  memcpy(out, buf, CX_CODE_LEN);
  out[CX_CODE_LEN] = 0;
  return 0;
}

static uint32_t digits_value(const char *p, int n) {
  uint32_t v = 0;
  for (int i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9') return 0;
    v = v * 10 + (uint32_t)(p[i] - '0');
  }
  return v;
}

uint32_t cx_uscc_region(const char code[CX_CODE_LEN]) { return digits_value(code + 2, 6); }

/* ===================================================================== resident ID */

static const unsigned char id_weight[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};

char cx_idcard_check_char(const char id17[17]) {
  unsigned sum = 0;
  for (int i = 0; i < 17; i++) sum += (unsigned)(id17[i] - '0') * id_weight[i];
  return "10X98765432"[sum % 11];
}

/* ISO 3166-1 numeric code v (0..999) is a country's. */
static int country_numeric_ok(int v);

/* Birth date (positions 7-14) and check character of an all-digit candidate whose region part
 * has been checked. */
static int id_date_check(const char c[CX_CODE_LEN]) {
  int y = (int)digits_value(c + 6, 4), m = (int)digits_value(c + 10, 2), d = (int)digits_value(c + 12, 2);
  if (y < 1800 || !cx__day_valid_ymd(y, m, d)) return CX_EDATE;
  /* Not born in the future (one day of slack for UTC+8). Besides being right, this keeps
   * all-digit USCCs whose positions 7-14 happen to read as a date in year 81xx from passing
   * as ID numbers. */
  int ty, tm, td;
  cx_day_to_ymd(cx_day_today() + 1, &ty, &tm, &td);
  if (y * 10000 + m * 100 + d > ty * 10000 + tm * 100 + td) return CX_EDATE;
  if (cx_idcard_check_char(c) != c[17]) return CX_ECHECKSUM;
  return 0;
}

/* Checks an upper-cased 18-byte candidate: 0, CX_EALPHABET, CX_EPROVINCE (CX_EPRCPROV,
 * CX_ECOUNTRY for a permanent-residence number), CX_EDATE or CX_ECHECKSUM, in that order. */
static int id_check(const char c[CX_CODE_LEN]) {
  for (int i = 0; i < 17; i++)
    if (c[i] < '0' || c[i] > '9') return CX_EALPHABET;
  if (!((c[17] >= '0' && c[17] <= '9') || c[17] == 'X')) return CX_EALPHABET;
  if (c[0] == '9') {
    /* The foreign permanent-residence card of 2023 (外国人永久居留身份证, issued since
     * 2023-12-01) numbers its holders in GB 11643's structure: '9' (no province begins with
     * 9), the accepting province (2 digits), the nationality as an ISO 3166 numeric code
     * (3 digits), the birth date, a sequence and the MOD 11-2 check character. */
    if (!is_province((c[1] - '0') * 10 + (c[2] - '0'))) return CX_EPRCPROV;
    if (!country_numeric_ok((int)digits_value(c + 3, 3))) return CX_ECOUNTRY;
    return id_date_check(c);
  }
  /* A province, or 83: the residence permits of Taiwan residents (81 / 82 for Hong Kong and
   * Macao residents are provinces already). */
  int p = (c[0] - '0') * 10 + (c[1] - '0');
  if (!is_province(p) && p != 83) return CX_EPROVINCE;
  return id_date_check(c);
}

int cx_idcard_normalize(const char *s, size_t n, char out[CX_CODE_LEN + 1]) {
  char buf[CX_CODE_LEN];
  if (trim_upper(s, n, buf) != CX_CODE_LEN) return CX_ELENGTH;
  int rc = id_check(buf);
  if (rc) return rc;
  memcpy(out, buf, CX_CODE_LEN);
  out[CX_CODE_LEN] = 0;
  return 0;
}

/* ===================================================================== typed identifiers */

/*
 * Persons without a resident ID number are kept under a typed key of the same 18 bytes:
 * byte 0 a lower-case type letter, which no USCC (1-9, A, N, Y) and no ID number (a digit)
 * begins with; then the normalised document number; then CX_TYPED_PAD up to 18 bytes.
 *   p  passport                 ISO 3166 alpha-3 issuing state + 5..14 letters and digits
 *   h  HK/Macao permit          H or M + the 8-digit lifelong number
 *   t  Taiwan permit            the 8-digit lifelong number
 *   f  permanent residence, old 3 letters (nationality, alpha-3) + 12 digits
 * The old 11-character HK/Macao and 10-digit Taiwan numbers end in a 2-digit renewal count
 * (公安部出入境管理局, 2010: "前8位数字为通行证持有人的终身号, 后2位数字表示换证次数"):
 * the key keeps the lifelong part, so that a renewed permit finds the same person.
 */
#define CX_TYPED_PAD '-'

/* ISO 3166-1 alpha-3 (GB/T 2659), sorted: the 249 codes of Debian iso-codes 4.15.0. */
static const char country_alpha3[] =
    "ABWAFGAGOAIAALAALBANDAREARGARMASMATAATFATGAUSAUTAZEBDIBELBENBESBFABGDBGRBHRBHSBIHBLMBLRBLZBMUBOL"
    "BRABRBBRNBTNBVTBWACAFCANCCKCHECHLCHNCIVCMRCODCOGCOKCOLCOMCPVCRICUBCUWCXRCYMCYPCZEDEUDJIDMADNKDOM"
    "DZAECUEGYERIESHESPESTETHFINFJIFLKFRAFROFSMGABGBRGEOGGYGHAGIBGINGLPGMBGNBGNQGRCGRDGRLGTMGUFGUMGUY"
    "HKGHMDHNDHRVHTIHUNIDNIMNINDIOTIRLIRNIRQISLISRITAJAMJEYJORJPNKAZKENKGZKHMKIRKNAKORKWTLAOLBNLBRLBY"
    "LCALIELKALSOLTULUXLVAMACMAFMARMCOMDAMDGMDVMEXMHLMKDMLIMLTMMRMNEMNGMNPMOZMRTMSRMTQMUSMWIMYSMYTNAM"
    "NCLNERNFKNGANICNIUNLDNORNPLNRUNZLOMNPAKPANPCNPERPHLPLWPNGPOLPRIPRKPRTPRYPSEPYFQATREUROURUSRWASAU"
    "SDNSENSGPSGSSHNSJMSLBSLESLVSMRSOMSPMSRBSSDSTPSURSVKSVNSWESWZSXMSYCSYRTCATCDTGOTHATJKTKLTKMTLSTON"
    "TTOTUNTURTUVTWNTZAUGAUKRUMIURYUSAUZBVATVCTVENVGBVIRVNMVUTWLFWSMYEMZAFZMBZWE"
    ;
/* Codes of ICAO Doc 9303 (machine-readable travel documents) that only passports carry:
 * British nationality classes, Kosovo, the UN and its agencies, stateless and refugee codes,
 * the EU and the Sovereign Order of Malta. Sorted. */
static const char country_icao[] = "EUEGBDGBNGBOGBPGBSRKSUNAUNKUNOXBAXCCXCEXCOXECXESXIMXMPXOMXPOXXAXXBXXCXXX";
/* ISO 3166-1 numeric (GB/T 2659), sorted: 249 codes, the same edition. */
static const uint16_t country_numeric[] = {
    4, 8, 10, 12, 16, 20, 24, 28, 31, 32, 36, 40, 44, 48, 50, 51, 52, 56, 60, 64,
    68, 70, 72, 74, 76, 84, 86, 90, 92, 96, 100, 104, 108, 112, 116, 120, 124, 132, 136, 140,
    144, 148, 152, 156, 158, 162, 166, 170, 174, 175, 178, 180, 184, 188, 191, 192, 196, 203, 204, 208,
    212, 214, 218, 222, 226, 231, 232, 233, 234, 238, 239, 242, 246, 248, 250, 254, 258, 260, 262, 266,
    268, 270, 275, 276, 288, 292, 296, 300, 304, 308, 312, 316, 320, 324, 328, 332, 334, 336, 340, 344,
    348, 352, 356, 360, 364, 368, 372, 376, 380, 384, 388, 392, 398, 400, 404, 408, 410, 414, 417, 418,
    422, 426, 428, 430, 434, 438, 440, 442, 446, 450, 454, 458, 462, 466, 470, 474, 478, 480, 484, 492,
    496, 498, 499, 500, 504, 508, 512, 516, 520, 524, 528, 531, 533, 534, 535, 540, 548, 554, 558, 562,
    566, 570, 574, 578, 580, 581, 583, 584, 585, 586, 591, 598, 600, 604, 608, 612, 616, 620, 624, 626,
    630, 634, 638, 642, 643, 646, 652, 654, 659, 660, 662, 663, 666, 670, 674, 678, 682, 686, 688, 690,
    694, 702, 703, 704, 705, 706, 710, 716, 724, 728, 729, 732, 740, 744, 748, 752, 756, 760, 762, 764,
    768, 772, 776, 780, 784, 788, 792, 795, 796, 798, 800, 804, 807, 818, 826, 831, 832, 833, 834, 840,
    850, 854, 858, 860, 862, 876, 882, 887, 894,
};

static int country_numeric_ok(int v) {
  size_t lo = 0, hi = sizeof country_numeric / sizeof country_numeric[0];
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (country_numeric[mid] == v) return 1;
    if (country_numeric[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return 0;
}

static int in_table3(const char *t, size_t n3, const char c[3]) {
  size_t lo = 0, hi = n3;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int d = memcmp(t + 3 * mid, c, 3);
    if (d == 0) return 1;
    if (d < 0) lo = mid + 1;
    else hi = mid;
  }
  return 0;
}

/* c[0..3) is an ISO 3166 alpha-3 code (or, for a passport, an ICAO Doc 9303 one). */
static int country_alpha3_ok(const char c[3], int passport) {
  return in_table3(country_alpha3, (sizeof country_alpha3 - 1) / 3, c) ||
         (passport && in_table3(country_icao, (sizeof country_icao - 1) / 3, c));
}

static const struct {
  char letter;
  const char *name; /* the textual form's prefix */
} typed_kinds[] = {{'p', "passport"}, {'h', "hkmo"}, {'t', "tw"}, {'f', "prc"}};
#define N_TYPED (sizeof typed_kinds / sizeof typed_kinds[0])

static int typed_index(char letter) {
  for (size_t i = 0; i < N_TYPED; i++)
    if (typed_kinds[i].letter == letter) return (int)i;
  return -1;
}

int cx_code_typed(const char code[CX_CODE_LEN]) { return typed_index(code[0]) >= 0 ? code[0] : 0; }

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_letter(char c) { return c >= 'A' && c <= 'Z'; }

/* Builds the key of type letter from its upper-cased body b[0..n) (passport: country then
 * number; blanks already removed). 18-character permanent-residence numbers are ID-shaped:
 * their key is the number itself. 0 or the type's error; key untouched on failure. */
static int typed_key(char letter, const char *b, size_t n, char key[CX_CODE_LEN]) {
  char k[CX_CODE_LEN];
  size_t len = 0; /* of the body kept in the key */
  switch (letter) {
  case 'p': {
    if (n < 3 || !is_letter(b[0]) || !is_letter(b[1]) || !is_letter(b[2]) || !country_alpha3_ok(b, 1))
      return CX_ECOUNTRY;
    size_t digits = 0;
    for (size_t i = 3; i < n; i++) {
      if (!is_digit(b[i]) && !is_letter(b[i])) return CX_EPASSPORT;
      digits += is_digit(b[i]);
    }
    if (n - 3 < 5 || n - 3 > CX_CODE_LEN - 4 || !digits) return CX_EPASSPORT;
    len = n;
    break;
  }
  case 'h':
    if ((n != 9 && n != 11) || (b[0] != 'H' && b[0] != 'M')) return CX_EHKMO;
    for (size_t i = 1; i < n; i++)
      if (!is_digit(b[i])) return CX_EHKMO;
    len = 9; /* the lifelong number, without the old form's renewal count */
    break;
  case 't':
    if (n != 8 && n != 10) return CX_ETWPERMIT;
    for (size_t i = 0; i < n; i++)
      if (!is_digit(b[i])) return CX_ETWPERMIT;
    len = 8;
    break;
  case 'f':
    if (n == CX_CODE_LEN && b[0] == '9') { /* the 2023 card: an ID-shaped number */
      int rc = id_check(b);
      if (rc == CX_EALPHABET) return CX_EPRC;
      if (rc) return rc;
      memcpy(key, b, CX_CODE_LEN);
      return 0;
    }
    if (n != 15) return CX_EPRC;
    for (size_t i = 0; i < 3; i++)
      if (!is_letter(b[i])) return CX_EPRC;
    for (size_t i = 3; i < 15; i++)
      if (!is_digit(b[i])) return CX_EPRC;
    if (!country_alpha3_ok(b, 0)) return CX_ECOUNTRY;
    len = 15;
    break;
  default: return CX_EIDTYPE;
  }
  k[0] = letter;
  memcpy(k + 1, b, len);
  memset(k + 1 + len, CX_TYPED_PAD, CX_CODE_LEN - 1 - len);
  memcpy(key, k, CX_CODE_LEN);
  return 0;
}

/* The longest body a textual form may carry (passport: "USA" + 14; blanks inside dropped). */
#define TYPED_BODY_MAX 24

/*
 * Parses a typed identifier from trimmed s[0..n): the textual form "name:number" (passport:
 * "passport:CCC:number"; the name in any case, blanks inside the number ignored) or the key
 * itself (a type letter, the body, pads). Returns 1 and *rc (0 with key set, or the error)
 * when s is meant as a typed identifier, 0 when it is not one (a USCC or ID number, maybe bad).
 */
static int typed_parse(const char *s, size_t n, char key[CX_CODE_LEN], int *rc) {
  const char *colon = memchr(s, ':', n);
  char body[TYPED_BODY_MAX];
  size_t bn = 0;
  char letter;
  if (!colon) {
    /* The key: USCCs and ID numbers never begin with a lower-case type letter (a USCC typed
     * in lower case begins with a digit or a, n, y). */
    if (n != CX_CODE_LEN || typed_index(s[0]) < 0) return 0;
    letter = s[0];
    size_t end = n;
    while (end > 1 && s[end - 1] == CX_TYPED_PAD) end--;
    for (size_t i = 1; i < end; i++) body[bn++] = s[i]; /* verbatim: the key is upper-case */
  } else {
    size_t pn = (size_t)(colon - s);
    int k = -1;
    for (size_t i = 0; i < N_TYPED && k < 0; i++)
      if (strlen(typed_kinds[i].name) == pn) {
        size_t j = 0;
        while (j < pn && (s[j] | 0x20) == typed_kinds[i].name[j]) j++;
        if (j == pn) k = (int)i;
      }
    if (k < 0) {
      *rc = CX_EIDTYPE;
      return 1;
    }
    letter = typed_kinds[k].letter;
    const char *p = colon + 1, *e = s + n;
    if (letter == 'p') { /* CCC ':' number */
      const char *c2 = memchr(p, ':', (size_t)(e - p));
      if (!c2 || c2 - p != 3) {
        *rc = CX_ECOUNTRY;
        return 1;
      }
      for (int i = 0; i < 3; i++) body[bn++] = upper(p[i]);
      p = c2 + 1;
    }
    for (; p < e; p++) {
      if (*p == ' ' || *p == '\t') continue;
      if (bn == TYPED_BODY_MAX) {
        *rc = typed_key(letter, body, bn, key); /* too long for any type: its own error */
        return 1;
      }
      body[bn++] = upper(*p);
    }
  }
  *rc = typed_key(letter, body, bn, key);
  return 1;
}

/* Trims ASCII whitespace off s[0..n); returns the start and sets *len. */
static const char *trim(const char *s, size_t n, size_t *len) {
  if (!s) n = 0;
  while (n && is_space(s[0])) s++, n--;
  while (n && is_space(s[n - 1])) n--;
  *len = n;
  return s;
}

int cx_person_normalize(const char *s, size_t n, char out[CX_CODE_LEN + 1]) {
  size_t tn;
  const char *t = trim(s, n, &tn);
  char key[CX_CODE_LEN];
  int rc;
  if (typed_parse(t, tn, key, &rc)) {
    if (rc) return rc;
    memcpy(out, key, CX_CODE_LEN);
    out[CX_CODE_LEN] = 0;
    return 0;
  }
  return cx_idcard_normalize(s, n, out);
}

size_t cx_code_format(const char code[CX_CODE_LEN], char out[CX_CODE_TEXT_MAX]) {
  int k = typed_index(code[0]);
  if (k < 0) {
    memcpy(out, code, CX_CODE_LEN);
    out[CX_CODE_LEN] = 0;
    return CX_CODE_LEN;
  }
  size_t o = strlen(typed_kinds[k].name), end = CX_CODE_LEN, i = 1;
  while (end > 1 && code[end - 1] == CX_TYPED_PAD) end--;
  memcpy(out, typed_kinds[k].name, o);
  out[o++] = ':';
  if (code[0] == 'p' && end >= 4) {
    memcpy(out + o, code + 1, 3);
    o += 3;
    out[o++] = ':';
    i = 4;
  }
  memcpy(out + o, code + i, end - i);
  o += end - i;
  out[o] = 0;
  return o;
}

/* ===================================================================== either kind */

int cx_code_normalize(const char *s, size_t n, char out[CX_CODE_LEN + 1], int *is_person) {
  char buf[CX_CODE_LEN];
  size_t tn;
  const char *t = trim(s, n, &tn);
  int trc;
  if (typed_parse(t, tn, buf, &trc)) {
    if (trc) return trc;
    memcpy(out, buf, CX_CODE_LEN);
    out[CX_CODE_LEN] = 0;
    if (is_person) *is_person = 1;
    return 0;
  }
  if (trim_upper(s, n, buf) != CX_CODE_LEN) return CX_ELENGTH;
  int id_rc = id_check(buf);
  int person = id_rc == 0;
  if (!person) {
    int rc = uscc_check(buf);
    if (rc) {
      /* Neither kind. The error of the kind the string most looks like: an ID number's when
       * it is ID-shaped and fails only its check character (a mistyped ID number), or fails
       * its province or birth date with a check character that agrees (an ID number with a
       * made-up province or date); otherwise the USCC's. */
      if (id_rc == CX_ECHECKSUM) return CX_ECHECKSUM;
      if ((id_rc == CX_EPROVINCE || id_rc == CX_EPRCPROV || id_rc == CX_ECOUNTRY || id_rc == CX_EDATE) &&
          cx_idcard_check_char(buf) == buf[17])
        return id_rc;
      return rc;
    }
  }
  memcpy(out, buf, CX_CODE_LEN);
  out[CX_CODE_LEN] = 0;
  if (is_person) *is_person = person;
  return 0;
}

/* "<field>: <what is wrong, and where>" for each error of the validators above. */
#define CX__CODE_WHYS(f)                                                                        \
  {f ": wrong length (a code has 18 characters)",                                               \
   f ": a character outside the code's alphabet (0-9, A-Y without I O Z S V; ID numbers: digits, X last)", \
   f ": positions 1-2 are no registration authority and institution type of GB 32100",          \
   f ": positions 3-8 are not a region code (a province's six digits, or 100000)",              \
   f ": position 17 is not the GB 11714 check digit of the organisation code in positions 9-16", \
   f ": bad check character (position 18)",                                                     \
   f ": positions 1-2 of the ID number are no province",                                        \
   f ": positions 7-14 of the ID number are no real birth date, or one in the future",          \
   f ": unknown identifier type (known: passport:CCC:number, hkmo:, tw:, prc:)",                \
   f ": the issuing country or nationality is no ISO 3166 code (passport:CCC:number, CCC alpha-3)", \
   f ": a passport number has 5 to 14 letters and digits, at least one a digit",                \
   f ": an HK/Macao permit number (港澳居民来往内地通行证) is H or M and 8 digits, or 10 (old form)", \
   f ": a Taiwan permit number (台湾居民来往大陆通行证) has 8 digits, or 10 (old form)",           \
   f ": a permanent-residence card number (外国人永久居留身份证) is 3 letters and 12 digits, or 18 characters beginning with 9", \
   f ": positions 2-3 of the permanent-residence number are no province",                      \
   f ": not a valid code"}

const char *cx_code_why(int rc, int authority) {
  static const char *const why[2][16] = {CX__CODE_WHYS("entity_code"), CX__CODE_WHYS("authority_code")};
  const char *const *w = why[authority ? 1 : 0];
  switch (rc) {
  case CX_ELENGTH: return w[0];
  case CX_EALPHABET: return w[1];
  case CX_EREGAUTH: return w[2];
  case CX_EREGION: return w[3];
  case CX_EORGCODE: return w[4];
  case CX_ECHECKSUM: return w[5];
  case CX_EPROVINCE: return w[6];
  case CX_EDATE: return w[7];
  case CX_EIDTYPE: return w[8];
  case CX_ECOUNTRY: return w[9];
  case CX_EPASSPORT: return w[10];
  case CX_EHKMO: return w[11];
  case CX_ETWPERMIT: return w[12];
  case CX_EPRC: return w[13];
  case CX_EPRCPROV: return w[14];
  default: return w[15];
  }
}

uint32_t cx_code_region(const char code[CX_CODE_LEN], int is_person) {
  if (typed_index(code[0]) >= 0) return 0; /* a document number names no region */
  if (!is_person) return cx_uscc_region(code);
  /* A permanent-residence number names the accepting province only: its region is the
   * province's code, like a USCC registered at the provincial level. */
  if (code[0] == '9') return digits_value(code + 1, 2) * 10000;
  return digits_value(code, 6);
}

uint8_t cx_kind_from_code(const char code[CX_CODE_LEN], int is_person) {
  if (is_person) return CX_KIND_PERSON;
  switch (code[0]) {
  case '1':
    switch (code[1]) {
    case '1': return CX_KIND_GOVERNMENT;
    case '2': return CX_KIND_INSTITUTION;
    case '3': return CX_KIND_SOCIAL_ORG;
    default: return CX_KIND_ENTERPRISE;
    }
  case '5': return CX_KIND_SOCIAL_ORG;
  case '9': return code[1] == '2' ? CX_KIND_INDIVIDUAL_BUSINESS : CX_KIND_ENTERPRISE;
  default: return CX_KIND_ENTERPRISE;
  }
}

void cx_idcard_mask(const char code[CX_CODE_LEN], char out[CX_CODE_LEN + 1]) {
  memcpy(out, code, CX_CODE_LEN);
  out[CX_CODE_LEN] = 0;
  if (typed_index(code[0]) < 0) { /* an ID number: its birth date and sequence go */
    memset(out + 6, '*', CX_CODE_LEN - 10);
    return;
  }
  /* A document number: the type, the issuing country (passport) or nationality (old card) and
   * the H/M letter stay; the number goes but for its last 3 characters (2 when short). */
  size_t start = code[0] == 'p' || code[0] == 'f' ? 4 : code[0] == 'h' ? 2 : 1, end = CX_CODE_LEN;
  while (end > start && code[end - 1] == CX_TYPED_PAD) end--;
  size_t keep = end - start >= 8 ? 3 : 2;
  if (end - start > keep) memset(out + start, '*', end - start - keep);
}

/* ===================================================================== names */

/* Decodes one UTF-8 character at p (n > 0 bytes left). Returns its length and sets *cp, or
 * returns 1 with *cp = -1 for an invalid byte (overlong forms, surrogates, > U+10FFFF). */
static size_t utf8_decode(const unsigned char *p, size_t n, long *cp) {
  unsigned c = p[0];
  size_t len;
  long v, min;
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if ((c & 0xE0) == 0xC0) {
    len = 2, v = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3, v = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4, v = c & 0x07, min = 0x10000;
  } else {
    *cp = -1;
    return 1;
  }
  if (n < len) {
    *cp = -1;
    return 1;
  }
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xC0) != 0x80) {
      *cp = -1;
      return 1;
    }
    v = (v << 6) | (p[i] & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
    *cp = -1;
    return 1;
  }
  *cp = v;
  return len;
}

static size_t utf8_encode(long cp, char out[4]) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  } else if (cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  } else if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

size_t cx_name_normalize(const char *s, size_t n, char *out, size_t cap) {
  size_t o = 0;
  if (!out || cap == 0) return 0;
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  while (p && i < n) {
    long cp;
    i += utf8_decode(p + i, n - i, &cp);
    if (cp < 0) continue;                                  /* invalid byte: dropped */
    if (cp >= 0xFF01 && cp <= 0xFF5E) cp -= 0xFF01 - 0x21; /* full-width ASCII */
    if (cp == 0x3000 || cp == 0xA0) continue;              /* ideographic / no-break space */
    if (cp < 0x80) {
      if (is_space((char)cp) || cp == '(' || cp == ')' || cp == 0) continue;
      if (cp >= 'A' && cp <= 'Z') cp += 'a' - 'A';
    }
    char enc[4];
    size_t len = utf8_encode(cp, enc);
    if (o + len > cap - 1) break; /* never split a character */
    memcpy(out + o, enc, len);
    o += len;
  }
  out[o] = 0;
  return o;
}
