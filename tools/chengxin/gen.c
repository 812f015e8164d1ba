/*
 * gen.c — `chengxin gen`: a deterministic synthetic data set.
 *
 *   chengxin gen --entities N --records M --seed S (--db PATH | --out FILE.csv|FILE.jsonl|-)
 *
 * Same seed and sizes -> the same records, byte for byte: one PRNG of our own (splitmix64 to
 * seed, xoshiro256** to draw), each entity drawn from its own stream (seed, entity index), no
 * hash-order iteration. Two libm calls (pow, exp) shape weights and fines; their results are
 * rounded to integers before use, so only a libm differing in the last ulp could change a value.
 *
 * Shape of the data (what a provincial platform holds, centred on Fujian):
 *  - a few hundred authorities (government bodies, codes 11...) at province, city and county
 *    level; other entities: enterprises (91...), individual businesses (92...), social
 *    organisations (51/52/53...), institutions (12...), sub-district offices (11...), civil
 *    servants and persons (resident ID numbers); 70% in Fujian, the rest anywhere;
 *  - every entity has at least one record; records per entity are Pareto-distributed
 *    (alpha 1.16, capped): most have 1-5, a few have thousands;
 *  - all nine categories, sensible subtypes per kind, catalogue list types for the list
 *    categories, decision dates 2020-01-01..2025-12-31 mostly on working days, report delays
 *    of 0-7 working days for ~87%, late for ~10%, unknown for ~3%; repairs, revocations,
 *    objections, fines (penalties, arrears).
 * Codes are valid: USCC check characters (and the GB 11714 organisation-code check digit),
 * ID-number check characters over real county codes and birth dates.
 *
 * With --db, records go straight from cx_record structs into cx_batch (10k per commit), no
 * text round trip: generation costs well under a microsecond per record.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* ===================================================================== PRNG */

typedef struct rng {
  uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed, uint64_t stream) {
  uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ull);
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t rng_next(rng *r) {
  uint64_t *s = r->s;
  uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return res;
}

/* Uniform in [0, n) (Lemire's multiply-shift; the tiny bias is irrelevant here). */
static inline uint32_t rng_below(rng *r, uint32_t n) {
  return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}
/* Uniform in (0, 1]. */
static inline double rng_unit(rng *r) { return ((double)(rng_next(r) >> 11) + 1.0) / 9007199254740992.0; }
static inline int rng_pct(rng *r, uint32_t pct) { return rng_below(r, 1000) < pct * 10; }
static inline int rng_permille(rng *r, uint32_t pm) { return rng_below(r, 1000) < pm; }

static uint32_t pick_w(rng *r, const uint8_t *w, int n) {
  uint32_t tot = 0;
  for (int i = 0; i < n; i++) tot += w[i];
  uint32_t x = rng_below(r, tot);
  for (int i = 0; i < n; i++) {
    if (x < w[i]) return (uint32_t)i;
    x -= w[i];
  }
  return (uint32_t)(n - 1);
}

#define PICK(r, arr) ((arr)[rng_below((r), (uint32_t)(sizeof(arr) / sizeof((arr)[0])))])

/* ===================================================================== word lists */

static const char *const TRADE[] = {
    "恒", "信", "华", "泰", "鑫", "源", "盛", "达", "宏", "利", "嘉", "禾", "瑞", "丰", "通", "博",
    "创", "汇", "金", "隆", "安", "康", "永", "兴", "聚", "力", "远", "航", "海", "新", "佳", "美",
    "诚", "德", "和", "天", "宇", "晟", "昊", "立", "闽", "榕", "鹭", "星", "辰", "峰", "融", "顺",
};
static const char *const INDUSTRY[] = {
    "科技", "贸易", "建设工程", "食品", "餐饮管理", "物流", "电子", "房地产开发", "医药", "环保科技",
    "机械设备", "商贸", "建材", "信息技术", "劳务服务", "装饰工程", "投资管理", "农业发展", "纺织",
    "化工", "汽车服务", "文化传媒", "教育咨询", "物业管理", "酒店管理", "安装工程", "鞋业", "茶业",
    "水产", "服装", "家具", "包装材料",
};
static const char *const CO_SUFFIX[] = {"有限公司", "有限公司", "有限公司", "有限公司", "有限公司",
                                        "有限公司", "有限责任公司", "有限责任公司", "股份有限公司",
                                        "集团有限公司"};
static const char *const SHOP[] = {"便利店", "餐馆", "小吃店", "五金店", "理发店", "水果店", "超市",
                                   "汽车修理部", "服装店", "茶行", "药店", "商行", "建材店", "面馆"};
static const char *const SOCIAL[] = {"行业协会", "商会", "基金会", "促进会", "研究会", "联合会"};
static const char *const SOCIAL52[] = {"培训学校", "养老院", "幼儿园", "社会工作服务中心", "康复中心"};
static const char *const INSTITUTION[] = {"第一中学", "第二中学", "实验小学", "人民医院", "中医院",
                                          "疾病预防控制中心", "公共资源交易中心", "不动产登记中心",
                                          "社会保险中心", "妇幼保健院", "图书馆", "职业技术学校"};
static const char *const SUBDISTRICT[] = {"东街", "南街", "西街", "北街", "城关", "华林", "新港",
                                          "江滨", "湖东", "金山", "中亭", "五一", "洪山", "鹤林"};
static const char *const SURNAME[] = {
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
    "肖", "田", "董", "袁", "潘", "蔡", "余", "叶", "程", "苏", "魏", "吕", "丁", "沈", "卢", "钟",
};
static const char *const GIVEN[] = {
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀", "英", "霞", "平", "刚", "桂", "兰", "华", "建", "国", "志", "文", "斌", "辉", "宇",
    "浩", "然", "涵", "轩", "欣", "怡", "诺", "雨", "晨", "阳", "俊", "婷", "鹏", "峰", "琳", "颖",
};

/* Departments: name at county/city level, at province level, document-number abbreviation. */
typedef struct dept {
  const char *name, *prov_name, *abbr;
} dept;
static const dept DEPTS[] = {
    {"市场监督管理局", "市场监督管理局", "市监"}, {"税务局", "税务局", "税"},
    {"生态环境局", "生态环境厅", "环"},           {"应急管理局", "应急管理厅", "应急"},
    {"住房和城乡建设局", "住房和城乡建设厅", "建"}, {"人力资源和社会保障局", "人力资源和社会保障厅", "人社"},
    {"交通运输局", "交通运输厅", "交"},           {"卫生健康委员会", "卫生健康委员会", "卫健"},
    {"自然资源局", "自然资源厅", "自然资源"},     {"财政局", "财政厅", "财"},
    {"商务局", "商务厅", "商"},                   {"农业农村局", "农业农村厅", "农"},
    {"文化和旅游局", "文化和旅游厅", "文旅"},     {"城市管理局", "住房和城乡建设厅", "城管"},
    {"公安局", "公安厅", "公"},                   {"人民法院", "高级人民法院", "法"},
    {"发展和改革委员会", "发展和改革委员会", "发改"}, {"医疗保障局", "医疗保障局", "医保"},
    {"教育局", "教育厅", "教"},                   {"统计局", "统计局", "统"},
    {"监察委员会", "监察委员会", "监"},
};
#define N_DEPTS ((int)(sizeof DEPTS / sizeof DEPTS[0]))

/* A penalty: what was done, the law it breaks, the department that enforces that law. One
 * row, so that an authority fines only what its own law covers (a 交通运输局 never fines wage
 * arrears under the food safety law). */
typedef struct penalty_case {
  const char *name_or_fact, *basis, *abbr;
} penalty_case;
static const penalty_case PENALTY_CASES[] = {
    {"未取得许可从事经营活动", "《无证无照经营查处办法》第十三条", "市监"},
    {"销售不符合食品安全标准的食品", "《中华人民共和国食品安全法》第一百二十四条", "市监"},
    {"未按规定公示年度报告", "《市场主体登记管理条例》第四十五条", "市监"},
    {"虚假宣传", "《中华人民共和国反不正当竞争法》第二十条", "市监"},
    {"生产销售不合格产品", "《中华人民共和国产品质量法》第四十九条", "市监"},
    {"价格违法", "《中华人民共和国价格法》第三十九条", "市监"},
    {"未按规定设置安全警示标志", "《中华人民共和国安全生产法》第九十九条", "应急"},
    {"未按规定建立安全生产责任制", "《中华人民共和国安全生产法》第九十四条", "应急"},
    {"超标排放大气污染物", "《中华人民共和国大气污染防治法》第九十九条", "环"},
    {"未按规定申报纳税", "《中华人民共和国税收征收管理法》第六十二条", "税"},
    {"拖欠劳动者工资", "《保障农民工工资支付条例》第五十七条", "人社"},
    {"违法占用耕地", "《中华人民共和国土地管理法》第七十七条", "自然资源"},
    {"未取得道路运输经营许可擅自从事道路运输经营", "《中华人民共和国道路运输条例》第六十三条", "交"},
    {"违规处置建筑垃圾", "《城市市容和环境卫生管理条例》第三十九条", "城管"},
    {"未取得施工许可证擅自施工", "《建设工程质量管理条例》第五十七条", "建"},
};
/* The rules a serious-dishonesty list is kept under (by list code prefix): a list entry cites
 * its list's rules, not the repair measures. */
static const char *list_basis(const char *code) {
  static const struct { const char *prefix, *basis; } t[] = {
      {"court", "《最高人民法院关于公布失信被执行人名单信息的若干规定》"},
      {"tax", "《重大税收违法失信主体信息公布管理办法》"},
      {"market", "《市场监督管理严重违法失信名单管理办法》"},
      {"wage", "《拖欠农民工工资失信联合惩戒对象名单管理暂行办法》"},
      {"safety", "《安全生产严重失信主体名单管理办法》"},
      {"social_security", "《社会保险领域严重失信主体名单管理办法》"},
      {"statistics", "《统计严重失信企业信用管理办法》"},
      {"customs", "《中华人民共和国海关注册登记和备案企业信用管理办法》"},
      {"engineering", "《建筑市场信用管理暂行办法》"},
      {"procurement", "《中华人民共和国政府采购法实施条例》第六十八条"},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    if (strncmp(code, t[i].prefix, strlen(t[i].prefix)) == 0) return t[i].basis;
  return "《国务院关于建立完善守信联合激励和失信联合惩戒制度加快推进社会诚信建设的指导意见》";
}

/* A licence: its name, its law, the department that grants it. */
static const penalty_case LICENSE_CASES[] = {
    {"食品经营许可", "《中华人民共和国食品安全法》第三十五条", "市监"},
    {"建筑工程施工许可", "《中华人民共和国建筑法》第七条", "建"},
    {"排污许可", "《排污许可管理条例》第二条", "环"},
    {"道路运输经营许可", "《中华人民共和国道路运输条例》第十条", "交"},
    {"药品经营许可", "《中华人民共和国药品管理法》第五十一条", "市监"},
    {"危险化学品经营许可", "《危险化学品安全管理条例》第三十三条", "应急"},
    {"建设用地规划许可", "《中华人民共和国城乡规划法》第三十七条", "自然资源"},
    {"人力资源服务许可", "《人力资源市场暂行条例》第十八条", "人社"},
    {"医疗机构执业许可", "《医疗机构管理条例》第十六条", "卫健"},
};
#define PICK_CASE(r, arr) (&(arr)[rng_below((r), (uint32_t)(sizeof(arr) / sizeof(arr)[0]))])
static const char *const GOVD_CONTENT[] = {
    "未履行生效判决", "拖欠中小企业账款", "违规举债", "政府采购项目违约", "招商引资承诺未兑现",
    "未按约定支付工程款", "违规出具证明", "行政不作为",
};

/* ===================================================================== regions */

typedef struct county {
  uint32_t code;
  char name[136];      /* full: "福州市鼓楼区" */
  char city_short[64]; /* "福州" */
  char prov_short[16]; /* "福建" */
  char city_full[64];  /* "福州市" (or the province for municipalities) */
} county;

typedef struct gen {
  uint64_t seed;
  uint32_t n_ent, n_auth;
  uint64_t n_rec;
  /* regions */
  county *counties;
  uint32_t n_counties, *fj, n_fj; /* indices of Fujian counties */
  /* authorities */
  struct auth {
    char code[CX_CODE_LEN + 1];
    char name[224];
    const char *abbr;
    uint32_t county;
    uint8_t level, dept; /* 0 province, 1 city, 2 county */
  } *auths;
  uint32_t *auth_by_prov[100], n_auth_by_prov[100];
  uint32_t *auth_by_dept[32], n_auth_by_dept[32];
  /* catalogue */
  const cx_catalog *cat;
  const cx_calendar *cal;
  int lists[CX_CAT_COUNT][CX_MAX_LISTS];
  int n_lists[CX_CAT_COUNT];
  int person_lists[4], n_person_lists;
  uint64_t deny_review_mask, incentive_mask;
  /* records per entity */
  float *weights;
  double wsum;
  cx_day d_first, d_last, d_birth;
} gen;

static void copy_trim_suffix(char *out, size_t cap, const char *name, const char *suffix) {
  size_t n = strlen(name), s = strlen(suffix);
  if (n > s && memcmp(name + n - s, suffix, s) == 0) n -= s;
  if (n >= cap) n = cap - 1;
  while (n && n < strlen(name) && ((unsigned char)name[n] & 0xC0) == 0x80) n--; /* whole chars */
  memcpy(out, name, n);
  out[n] = 0;
}

static void prov_short(char *out, size_t cap, const char *name) {
  /* "福建省" -> "福建"; "广西壮族自治区" -> "广西"; "内蒙古自治区" -> "内蒙古"; "北京市" -> "北京" */
  size_t take = 6; /* two CJK characters */
  if (strncmp(name, "内蒙古", 9) == 0 || strncmp(name, "黑龙江", 9) == 0) take = 9;
  size_t n = strlen(name);
  if (take > n) take = n;
  if (take >= cap) take = cap - 1;
  memcpy(out, name, take);
  out[take] = 0;
}

static int gen_regions(gen *g) {
  const char *p = cx_data_regions, *end = cx_data_regions + cx_data_regions_len;
  char prov_name[100][64];
  memset(prov_name, 0, sizeof prov_name);
  /* city names by 4-digit prefix: a small open table */
  static char city_name[10000][64];
  memset(city_name, 0, sizeof city_name);
  size_t cap = 4096;
  g->counties = cx_calloc(cap, sizeof *g->counties);
  if (!g->counties) return -1;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *le = nl ? nl : end;
    if (le - p > 7 && p[0] >= '0' && p[0] <= '9' && p[6] == '\t') {
      uint32_t code = (uint32_t)strtoul(p, NULL, 10);
      char name[64];
      size_t nn = (size_t)(le - p - 7);
      while (nn && (p[7 + nn - 1] == '\r' || p[7 + nn - 1] == ' ')) nn--;
      if (nn >= sizeof name) nn = sizeof name - 1;
      memcpy(name, p + 7, nn);
      name[nn] = 0;
      if (code % 10000 == 0) {
        snprintf(prov_name[code / 10000 % 100], 64, "%s", name);
      } else if (code % 100 == 0) {
        snprintf(city_name[code / 100 % 10000], 64, "%s", name);
      } else if (strcmp(name, "市辖区") != 0) {
        if (g->n_counties == cap) {
          county *nc = cx_realloc(g->counties, cap * 2 * sizeof *nc);
          if (!nc) return -1;
          g->counties = nc;
          cap *= 2;
        }
        county *c = &g->counties[g->n_counties++];
        memset(c, 0, sizeof *c);
        c->code = code;
        const char *pn = prov_name[code / 10000 % 100];
        const char *cn = city_name[code / 100 % 10000];
        if (!*cn || strcmp(cn, "市辖区") == 0 || strcmp(cn, "县") == 0 ||
            strstr(cn, "直辖") != NULL)
          cn = pn;
        /* 金门县 (350527) and 台湾省 are in the code tables but have no mainland authority */
        if (code == 350527 || code / 10000 == 71) {
          g->n_counties--;
          p = le + 1;
          continue;
        }
        snprintf(c->city_full, sizeof c->city_full, "%.63s", cn);
        /* a name that already starts with its city's ("张家口市察北管理区") is not prefixed again */
        if (strncmp(name, cn, strlen(cn)) == 0) snprintf(c->name, sizeof c->name, "%.63s", name);
        else snprintf(c->name, sizeof c->name, "%.63s%.63s", cn, name);
        copy_trim_suffix(c->city_short, sizeof c->city_short, cn, "市");
        prov_short(c->prov_short, sizeof c->prov_short, pn);
      }
    }
    p = le + 1;
  }
  if (g->n_counties == 0) { /* no region table embedded: one fallback county */
    county *c = &g->counties[g->n_counties++];
    memset(c, 0, sizeof *c);
    c->code = 350102;
    snprintf(c->name, sizeof c->name, "福州市鼓楼区");
    snprintf(c->city_full, sizeof c->city_full, "福州市");
    snprintf(c->city_short, sizeof c->city_short, "福州");
    snprintf(c->prov_short, sizeof c->prov_short, "福建");
  }
  g->fj = cx_malloc(g->n_counties * sizeof *g->fj);
  if (!g->fj) return -1;
  for (uint32_t i = 0; i < g->n_counties; i++)
    if (g->counties[i].code / 10000 == 35) g->fj[g->n_fj++] = i;
  if (g->n_fj == 0) {
    for (uint32_t i = 0; i < g->n_counties; i++) g->fj[i] = i;
    g->n_fj = g->n_counties;
  }
  return 0;
}

static uint32_t pick_county(gen *g, rng *r) {
  if (rng_pct(r, 70)) return g->fj[rng_below(r, g->n_fj)];
  return rng_below(r, g->n_counties);
}

/* ===================================================================== codes */

/* GB 11714 organisation code: 8 characters + check (weights 3,7,9,10,5,8,4,2; mod 11). */
static void org_code(uint64_t unique, const char *lead, char out[9]) {
  char c[9];
  size_t ln = strlen(lead);
  /* a bijective scramble of the index into 10^(8-ln), so neighbours don't look sequential */
  uint64_t mod = 1;
  for (size_t i = ln; i < 8; i++) mod *= 10;
  uint64_t x = (unique * 7919ull * 104729ull + 12345ull) % mod;
  memcpy(c, lead, ln);
  for (int i = 7; i >= (int)ln; i--) {
    c[i] = (char)('0' + x % 10);
    x /= 10;
  }
  static const int w[8] = {3, 7, 9, 10, 5, 8, 4, 2};
  int sum = 0;
  for (int i = 0; i < 8; i++) {
    int v = c[i] >= '0' && c[i] <= '9' ? c[i] - '0' : c[i] - 'A' + 10;
    sum += v * w[i];
  }
  int ck = 11 - sum % 11;
  c[8] = ck == 10 ? 'X' : ck == 11 ? '0' : (char)('0' + ck);
  memcpy(out, c, 9);
}

static void make_uscc(const char *head2, uint32_t region, uint64_t unique, const char *lead,
                      char out[CX_CODE_LEN + 1]) {
  char c[17];
  memcpy(c, head2, 2);
  char reg[8];
  snprintf(reg, sizeof reg, "%06u", region % 1000000u);
  memcpy(c + 2, reg, 6);
  org_code(unique, lead, c + 8);
  memcpy(out, c, 17);
  out[17] = cx_uscc_check_char(c);
  out[18] = 0;
}

static void make_idcard(uint32_t region, uint64_t unique, cx_day first_birth, char out[CX_CODE_LEN + 1]) {
  /* (birth day, sequence) from a bijection of the index: unique for < 12M persons; births
   * 1971-01-01 .. 2003 (day numbers start at 1970, so no earlier births) */
  uint64_t q = (unique * 1000003ull) % 12000000ull;
  cx_day birth = first_birth + (cx_day)(q / 1000);
  int y, m, d;
  cx_day_to_ymd(birth, &y, &m, &d);
  char c[18];
  snprintf(c, sizeof c, "%06u%04d%02d%02d%03u", region % 1000000u, y, m, d, (unsigned)(q % 1000));
  memcpy(out, c, 17);
  out[17] = cx_idcard_check_char(c);
  out[18] = 0;
}

/* ===================================================================== authorities */

static int gen_authorities(gen *g) {
  g->auths = cx_calloc(g->n_auth, sizeof *g->auths);
  if (!g->auths) return -1;
  rng r;
  rng_seed(&r, g->seed, 0xA17);
  /* The province of the platform (Fujian when present) has one set of departments; its cities
   * and counties have theirs. Court and supervision commissions have their own code series. */
  uint32_t fj_cities[64], n_cities = 0;
  for (uint32_t i = 0; i < g->n_fj && n_cities < 64; i++) {
    uint32_t city = g->counties[g->fj[i]].code / 100;
    int seen = 0;
    for (uint32_t k = 0; k < n_cities; k++) seen |= g->counties[fj_cities[k]].code / 100 == city;
    if (!seen) fj_cities[n_cities++] = g->fj[i];
  }
  for (uint32_t i = 0; i < g->n_auth; i++) {
    struct auth *a = &g->auths[i];
    uint32_t lv = i < (uint32_t)N_DEPTS ? 0 : rng_pct(&r, 35) ? 1 : 2;
    uint32_t dp = i < (uint32_t)N_DEPTS ? i : rng_below(&r, N_DEPTS);
    uint32_t ci;
    if (lv == 0 || lv == 1)
      ci = fj_cities[rng_below(&r, n_cities)];
    else
      ci = g->fj[rng_below(&r, g->n_fj)];
    if (i >= (uint32_t)N_DEPTS && rng_pct(&r, 10)) { /* some authorities from elsewhere */
      ci = rng_below(&r, g->n_counties);
      lv = 2;
    }
    const county *c = &g->counties[ci];
    a->level = (uint8_t)lv;
    a->dept = (uint8_t)dp;
    a->county = ci;
    a->abbr = DEPTS[dp].abbr;
    uint32_t region;
    if (lv == 0) {
      region = c->code / 10000 * 10000;
      snprintf(a->name, sizeof a->name, "%s省%s", c->prov_short, DEPTS[dp].prov_name);
    } else if (lv == 1) {
      region = c->code / 100 * 100;
      const char *dn = strcmp(DEPTS[dp].abbr, "法") == 0 ? "中级人民法院" : DEPTS[dp].name;
      snprintf(a->name, sizeof a->name, "%s%s", c->city_full, dn);
    } else {
      region = c->code;
      snprintf(a->name, sizeof a->name, "%s%s", c->name, DEPTS[dp].name);
    }
    make_uscc("11", region, i, "00", a->code);
    uint32_t pv = c->code / 10000 % 100;
    uint32_t *nl = cx_realloc(g->auth_by_prov[pv], (g->n_auth_by_prov[pv] + 1) * sizeof *nl);
    if (!nl) return -1;
    nl[g->n_auth_by_prov[pv]++] = i;
    g->auth_by_prov[pv] = nl;
    uint32_t *dl = cx_realloc(g->auth_by_dept[dp], (g->n_auth_by_dept[dp] + 1) * sizeof *dl);
    if (!dl) return -1;
    dl[g->n_auth_by_dept[dp]++] = i;
    g->auth_by_dept[dp] = dl;
  }
  return 0;
}

static const struct auth *pick_auth(gen *g, rng *r, uint32_t region, uint32_t self) {
  uint32_t pv = region / 10000 % 100;
  for (int tries = 0; tries < 4; tries++) {
    uint32_t i;
    if (g->n_auth_by_prov[pv] && rng_pct(r, 85))
      i = g->auth_by_prov[pv][rng_below(r, g->n_auth_by_prov[pv])];
    else
      i = rng_below(r, g->n_auth);
    if (i != self || g->n_auth == 1) return &g->auths[i];
  }
  return &g->auths[(self + 1) % g->n_auth];
}

/* The department that makes a kind of record: the court lists 失信被执行人, the tax bureau
 * its lists, ... (-1: any department). */
static int dept_by_abbr(const char *abbr) {
  for (int i = 0; i < N_DEPTS; i++)
    if (strcmp(DEPTS[i].abbr, abbr) == 0) return i;
  return -1;
}

static int want_dept(const gen *g, uint8_t cat, uint8_t sub, int list) {
  static const struct {
    const char *prefix, *abbr;
  } by_list[] = {
      {"court", "法"},        {"tax", "税"},         {"procurement", "财"},  {"fund", "财"},
      {"safety", "应急"},     {"env", "环"},         {"market", "市监"},     {"food", "市监"},
      {"contract", "市监"},   {"credit_model", "市监"}, {"wage", "人社"},    {"social_security", "人社"},
      {"labour", "人社"},     {"customs", "商"},     {"statistics", "统"},   {"engineering", "建"},
      {"civil_servant", "监"}, {"gov_", "发改"},     {"commitment", "发改"}, {"focus", "发改"},
  };
  if (cat == CX_CAT_GOV_DISHONESTY) /* courts judge, supervision commissions sanction */
    return sub == CX_SUB_JUDGMENT ? dept_by_abbr("法")
           : sub == CX_SUB_DISCIPLINARY || sub == CX_SUB_ACCOUNTABILITY ? dept_by_abbr("监")
                                                                      : -1;
  if (list >= 0) {
    const char *code = g->cat->lists[list].code;
    for (size_t i = 0; i < sizeof by_list / sizeof by_list[0]; i++)
      if (strncmp(code, by_list[i].prefix, strlen(by_list[i].prefix)) == 0) return dept_by_abbr(by_list[i].abbr);
    return -1;
  }
  switch (cat) {
  case CX_CAT_LAWSUIT: return dept_by_abbr("法");
  case CX_CAT_COMPLAINT: return dept_by_abbr("市监");
  case CX_CAT_EVALUATION: return dept_by_abbr("发改");
  default: return -1;
  }
}

/* An authority of department dp (-1: any), preferably in the entity's province, never the
 * entity itself. */
static const struct auth *pick_auth_dept(gen *g, rng *r, uint32_t region, uint32_t self, int dp) {
  if (dp < 0 || !g->n_auth_by_dept[dp]) return pick_auth(g, r, region, self);
  uint32_t pv = region / 10000 % 100, n = g->n_auth_by_dept[dp], fallback = UINT32_MAX;
  for (int tries = 0; tries < 6; tries++) {
    uint32_t i = g->auth_by_dept[dp][rng_below(r, n)];
    if (i == self) continue;
    if (g->counties[g->auths[i].county].code / 10000 % 100 == pv) return &g->auths[i];
    if (fallback == UINT32_MAX) fallback = i;
  }
  return fallback != UINT32_MAX ? &g->auths[fallback] : pick_auth(g, r, region, self);
}

/* ===================================================================== entities */

typedef struct ent {
  uint32_t index;
  uint8_t kind;
  uint32_t region;
  uint32_t auth;  /* authority index for government entities, else UINT32_MAX */
  uint32_t employer; /* civil servants: the authority they work for (公务员诚信档案), else UINT32_MAX */
  uint64_t n_recs;
  char code[CX_CODE_LEN + 1];
  char name[320];
} ent;

static void person_name(rng *r, char *out, size_t cap) {
  if (rng_pct(r, 60))
    snprintf(out, cap, "%s%s%s", PICK(r, SURNAME), PICK(r, GIVEN), PICK(r, GIVEN));
  else
    snprintf(out, cap, "%s%s", PICK(r, SURNAME), PICK(r, GIVEN));
}

static void gen_entity(gen *g, uint32_t i, rng *r, ent *e) {
  memset(e, 0, sizeof *e);
  e->index = i;
  e->auth = UINT32_MAX;
  e->employer = UINT32_MAX;
  if (i < g->n_auth) { /* authorities are government bodies with their own records */
    const struct auth *a = &g->auths[i];
    e->kind = CX_KIND_GOVERNMENT;
    e->auth = i;
    memcpy(e->code, a->code, sizeof e->code);
    snprintf(e->name, sizeof e->name, "%s", a->name);
    e->region = cx_uscc_region(e->code);
    return;
  }
  /* enterprise, government(0), subdistrict, institution, social_org, individual, civil, person */
  static const uint8_t w[CX_KIND_COUNT] = {156, 0, 2, 4, 6, 18, 4, 10};
  e->kind = (uint8_t)pick_w(r, w, CX_KIND_COUNT);
  const county *c = &g->counties[pick_county(g, r)];
  e->region = c->code;
  switch (e->kind) {
  case CX_KIND_ENTERPRISE: {
    const char *t1 = PICK(r, TRADE), *t2 = PICK(r, TRADE), *ind = PICK(r, INDUSTRY),
               *suf = PICK(r, CO_SUFFIX);
    uint32_t style = rng_below(r, 10);
    if (style < 5)
      snprintf(e->name, sizeof e->name, "%s%s%s%s%s", c->city_short, t1, t2, ind, suf);
    else if (style < 8)
      snprintf(e->name, sizeof e->name, "%s%s%s%s%s", c->name, t1, t2, ind, suf);
    else
      snprintf(e->name, sizeof e->name, "%s%s%s%s%s", c->prov_short, t1, t2, ind, suf);
    make_uscc("91", c->code, i, "MA", e->code);
    break;
  }
  case CX_KIND_INDIVIDUAL_BUSINESS: {
    char owner[16];
    person_name(r, owner, sizeof owner);
    if (rng_pct(r, 50))
      snprintf(e->name, sizeof e->name, "%s%s%s%s", c->name, PICK(r, TRADE), PICK(r, TRADE), PICK(r, SHOP));
    else
      snprintf(e->name, sizeof e->name, "%s%s%s", c->name, owner, PICK(r, SHOP));
    make_uscc("92", c->code, i, "L", e->code);
    break;
  }
  case CX_KIND_SOCIAL_ORG: {
    uint32_t t = rng_below(r, 10);
    if (t < 6) {
      snprintf(e->name, sizeof e->name, "%s%s%s", c->city_full, PICK(r, INDUSTRY), PICK(r, SOCIAL));
      make_uscc("51", c->code, i, "5", e->code);
    } else if (t < 9) {
      snprintf(e->name, sizeof e->name, "%s%s%s%s", c->name, PICK(r, TRADE), PICK(r, TRADE), PICK(r, SOCIAL52));
      make_uscc("52", c->code, i, "MJ", e->code);
    } else {
      snprintf(e->name, sizeof e->name, "%s%s%s慈善基金会", c->prov_short, PICK(r, TRADE), PICK(r, TRADE));
      make_uscc("53", c->code, i, "5", e->code);
    }
    break;
  }
  case CX_KIND_INSTITUTION:
    snprintf(e->name, sizeof e->name, "%s%s", c->name, PICK(r, INSTITUTION));
    make_uscc("12", c->code, i, "4", e->code);
    break;
  case CX_KIND_SUBDISTRICT:
    snprintf(e->name, sizeof e->name, "%s%s街道办事处", c->name, PICK(r, SUBDISTRICT));
    make_uscc("11", c->code, i, "0", e->code);
    break;
  default: /* civil servant, person */
    person_name(r, e->name, sizeof e->name);
    make_idcard(c->code, i, g->d_birth, e->code);
    /* a civil servant works for a body of the province (drawn after the name and code, which
     * stay what they were) */
    if (e->kind == CX_KIND_CIVIL_SERVANT) e->employer = (uint32_t)(pick_auth(g, r, c->code, UINT32_MAX) - g->auths);
    break;
  }
}

/* ===================================================================== records */

/* Category weights by kind: license penalty gov_dis blacklist redlist commit lawsuit complaint
 * eval, then abnormal compulsion confirmation inspection (a few of each: enough for the demo
 * store's status pages and aggregates to show them). */
static const uint8_t CAT_W[CX_KIND_COUNT][CX_CAT_COUNT] = {
    [CX_KIND_ENTERPRISE] = {40, 30, 0, 3, 4, 10, 0, 6, 7, 4, 2, 2, 6},
    [CX_KIND_GOVERNMENT] = {0, 0, 40, 0, 0, 10, 40, 10, 0, 0, 0, 0, 0},
    [CX_KIND_SUBDISTRICT] = {0, 0, 40, 0, 0, 15, 30, 15, 0, 0, 0, 0, 0},
    [CX_KIND_INSTITUTION] = {40, 20, 5, 1, 5, 10, 0, 4, 15, 0, 0, 3, 4},
    [CX_KIND_SOCIAL_ORG] = {40, 15, 0, 3, 6, 10, 0, 6, 20, 0, 0, 0, 3},
    [CX_KIND_INDIVIDUAL_BUSINESS] = {40, 40, 0, 3, 1, 8, 0, 8, 0, 6, 2, 0, 5},
    [CX_KIND_CIVIL_SERVANT] = {0, 0, 80, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0},
    [CX_KIND_PERSON] = {0, 45, 0, 25, 0, 15, 0, 15, 0, 0, 0, 4, 0},
};

static const char CAT_DOC[CX_CAT_COUNT][4] = {"许", "罚", "决", "失", "荣", "承", "诉",
                                              "投", "评", "异", "强", "确", "检"};

/* 行政强制, 行政确认 and 行政检查 records: what was done, its law, the department. */
static const penalty_case COERCIVE_CASES[] = {
    {"查封涉嫌违法生产经营场所", "《中华人民共和国行政强制法》第九条", "市监"},
    {"扣押涉嫌不符合食品安全标准的食品", "《中华人民共和国食品安全法》第一百一十条", "市监"},
    {"查封扣押存在重大事故隐患的设施设备", "《中华人民共和国安全生产法》第六十五条", "应急"},
    {"查封扣押造成污染物排放的设施设备", "《中华人民共和国环境保护法》第二十五条", "环"},
};
static const penalty_case ENFORCEMENT_CASES[] = {
    {"逾期不缴纳罚款，依法加处罚款", "《中华人民共和国行政强制法》第四十五条", "市监"},
    {"逾期不履行限期拆除决定，依法强制拆除", "《中华人民共和国行政强制法》第四十四条", "城管"},
    {"逾期不缴纳税款，依法强制执行", "《中华人民共和国税收征收管理法》第四十条", "税"},
};
static const penalty_case CONFIRMATION_CASES[] = {
    {"工伤认定", "《工伤保险条例》", "人社"},
    {"不动产权属登记", "《不动产登记暂行条例》", "自然资源"},
    {"高新技术企业认定", "《高新技术企业认定管理办法》", "税"},
};
static const penalty_case INSPECTION_CASES[] = {
    {"“双随机、一公开”抽查", "《市场监督管理行政执法程序规定》", "市监"},
    {"安全生产监督检查", "《中华人民共和国安全生产法》", "应急"},
    {"排污单位现场检查", "《中华人民共和国环境保护法》第二十四条", "环"},
    {"食品安全监督检查", "《中华人民共和国食品安全法》", "市监"},
};

/* Scratch strings of one record (cx_batch_put copies them). */
typedef struct rec_buf {
  char record_id[96], content[192], measures[128], auth_name[96];
  int dept; /* the department the record's content calls for, -1: by category and list */
} rec_buf;

static cx_day add_workdays(const gen *g, cx_day d, int k) {
  while (k > 0) {
    d++;
    if (cx_calendar_is_workday(g->cal, d)) k--;
  }
  return d;
}

static cx_str cstr(const char *s) { return cx_str_c(s); }

static void gen_record(gen *g, const ent *e, uint64_t gidx, rng *r, cx_record *rec, rec_buf *b) {
  cx_record_defaults(rec);
  rec->entity_code = (cx_str){e->code, CX_CODE_LEN};
  rec->entity_name = cstr(e->name);
  rec->entity_kind = e->kind;
  uint8_t cat = (uint8_t)pick_w(r, CAT_W[e->kind], CX_CAT_COUNT);
  rec->category = cat;

  /* decision date: uniform over the range, mostly working days */
  cx_day span = g->d_last - g->d_first + 1, dd = g->d_first + rng_below(r, span);
  for (int t = 0; t < 3 && !cx_calendar_is_workday(g->cal, dd); t++) dd = g->d_first + rng_below(r, span);
  rec->decision_date = dd;
  rec->valid_from = dd;

  /* report delay in working days */
  uint32_t x = rng_below(r, 1000);
  if (x < 30) {
    rec->report_date = CX_DAY_NONE;
  } else {
    int k;
    if (x < 900) {
      static const uint8_t dw[8] = {6, 20, 22, 16, 12, 10, 8, 6}; /* 0..7 working days */
      k = (int)pick_w(r, dw, 8);
    } else {
      k = 8 + (int)(rng_below(r, 20) * rng_below(r, 20) / 10); /* 8..44, skewed early */
    }
    rec->report_date = add_workdays(g, dd, k);
  }

  uint8_t sev = CX_SEV_GENERAL, sub = CX_SUB_NONE;
  int list = -1;
  cx_day until = CX_DAY_OPEN;
  int sanction = 0; /* can be repaired / objected */
  b->content[0] = 0;
  b->dept = -1;
  b->measures[0] = 0;
  const char *basis = "";
  switch (cat) {
  case CX_CAT_LICENSE: {
    const penalty_case *lc = PICK_CASE(r, LICENSE_CASES);
    snprintf(b->content, sizeof b->content, "准予%s", lc->name_or_fact);
    basis = lc->basis;
    b->dept = dept_by_abbr(lc->abbr);
    if (!rng_pct(r, 20)) until = dd + 365 * (1 + rng_below(r, 5));
    break;
  }
  case CX_CAT_PENALTY: {
    /* The tier follows what was decided (信用修复管理办法): 警告 or a fine below 1,000 元 is
     * minor, an ordinary fine general, 吊销 / 责令停产停业 / a fine from 1,000,000 元 serious.
     * Half the rows leave the tier to the catalogue's rules, which must find the same. */
    static const uint8_t sw[3] = {30, 55, 15};
    sev = (uint8_t)pick_w(r, sw, 3);
    const penalty_case *pc = PICK_CASE(r, PENALTY_CASES);
    b->dept = dept_by_abbr(pc->abbr);
    until = dd + (sev == CX_SEV_MINOR ? 90 : sev == CX_SEV_GENERAL ? 365 : 1095);
    double lo = sev == CX_SEV_MINOR ? 200 : sev == CX_SEV_GENERAL ? 1000 : 1000000;
    double hi = sev == CX_SEV_MINOR ? 999 : sev == CX_SEV_GENERAL ? 999999 : 5000000;
    double yuan = lo * exp(log(hi / lo) * (double)rng_below(r, 1u << 20) / (double)(1u << 20));
    int64_t y = yuan >= 10000 ? (int64_t)(yuan / 1000) * 1000 : (int64_t)(yuan / 100) * 100;
    if (y < (int64_t)lo) y = (int64_t)lo;
    if (sev == CX_SEV_MINOR && rng_pct(r, 40)) {
      snprintf(b->content, sizeof b->content, "%s，警告", pc->name_or_fact);
    } else if (sev == CX_SEV_SERIOUS && rng_pct(r, 50)) {
      snprintf(b->content, sizeof b->content, "%s，%s", pc->name_or_fact, rng_pct(r, 50) ? "吊销许可证件" : "责令停产停业");
    } else {
      rec->amount_fen = y * 100;
      snprintf(b->content, sizeof b->content, "%s，罚款人民币%lld元", pc->name_or_fact, (long long)y);
    }
    basis = pc->basis;
    if (sev == CX_SEV_SERIOUS && g->n_lists[CX_CAT_PENALTY] && rng_pct(r, 50))
      list = g->lists[CX_CAT_PENALTY][rng_below(r, (uint32_t)g->n_lists[CX_CAT_PENALTY])];
    sanction = 1;
    break;
  }
  case CX_CAT_GOV_DISHONESTY: {
    if (e->kind == CX_KIND_CIVIL_SERVANT) {
      sub = rng_pct(r, 60) ? CX_SUB_DISCIPLINARY : CX_SUB_ACCOUNTABILITY;
      snprintf(b->content, sizeof b->content, "%s", sub == CX_SUB_DISCIPLINARY ? "违反工作纪律，给予警告处分" : "履职不力，予以问责");
    } else {
      static const uint8_t gw[4] = {40, 30, 10, 20};
      sub = (uint8_t)(CX_SUB_JUDGMENT + pick_w(r, gw, 4));
      if (sub == CX_SUB_DISCIPLINARY) sub = CX_SUB_ADMIN_PENALTY;
      snprintf(b->content, sizeof b->content, "%s", PICK(r, GOVD_CONTENT));
      if (strstr(b->content, "账款") || strstr(b->content, "工程款"))
        rec->amount_fen = (int64_t)(10000 + rng_below(r, 5000000)) * 100;
    }
    sev = rng_pct(r, 40) ? CX_SEV_SERIOUS : CX_SEV_GENERAL;
    until = rng_pct(r, 20) ? CX_DAY_OPEN : dd + 1095;
    basis = "《关于加强政务诚信建设的指导意见》";
    int n = g->n_lists[CX_CAT_GOV_DISHONESTY];
    if (n && rng_pct(r, 60)) {
      /* civil servants: the list whose name mentions 公职; bodies: the others */
      int best = -1;
      for (int t = 0; t < 4 && best < 0; t++) {
        int li = g->lists[CX_CAT_GOV_DISHONESTY][rng_below(r, (uint32_t)n)];
        int is_person = strstr(g->cat->lists[li].code, "servant") != NULL;
        if (is_person == (e->kind == CX_KIND_CIVIL_SERVANT)) best = li;
      }
      list = best;
    }
    sanction = 1;
    break;
  }
  case CX_CAT_BLACKLIST: {
    sev = CX_SEV_SERIOUS;
    if (e->kind == CX_KIND_PERSON && g->n_person_lists)
      list = g->person_lists[rng_below(r, (uint32_t)g->n_person_lists)];
    else if (g->n_lists[CX_CAT_BLACKLIST])
      list = g->lists[CX_CAT_BLACKLIST][rng_below(r, (uint32_t)g->n_lists[CX_CAT_BLACKLIST])];
    if (list < 0) { /* a catalogue without blacklist types: make it a serious penalty */
      rec->category = cat = CX_CAT_PENALTY;
      until = dd + 1095;
      break;
    }
    x = rng_below(r, 10);
    until = x < 7 ? dd + 1095 : x < 9 ? dd + 730 : CX_DAY_OPEN;
    snprintf(b->content, sizeof b->content, "列入%s", g->cat->lists[list].name);
    basis = list_basis(g->cat->lists[list].code);
    if (rng_pct(r, 25)) { /* an explicit subset of deny/review measures */
      uint64_t m = g->cat->lists[list].defaults & g->deny_review_mask;
      size_t o = 0;
      for (int k = 0; k < CX_MAX_MEASURES && m; k++) {
        if (!(m >> k & 1)) continue;
        m &= ~(1ull << k);
        if (o && rng_pct(r, 50)) continue;
        int w2 = snprintf(b->measures + o, sizeof b->measures - o, "%s%s", o ? "," : "", g->cat->measures[k].code);
        if (w2 < 0 || (size_t)w2 >= sizeof b->measures - o) break;
        o += (size_t)w2;
      }
      b->measures[o] = 0;
    }
    sanction = 1;
    break;
  }
  case CX_CAT_REDLIST:
    if (!g->n_lists[CX_CAT_REDLIST]) {
      rec->category = cat = CX_CAT_EVALUATION;
      until = dd + 365;
      snprintf(b->content, sizeof b->content, "信用评价A级");
      break;
    }
    list = g->lists[CX_CAT_REDLIST][rng_below(r, (uint32_t)g->n_lists[CX_CAT_REDLIST])];
    until = dd + 365 * (1 + rng_below(r, 3));
    snprintf(b->content, sizeof b->content, "认定为%s", g->cat->lists[list].name);
    basis = "《关于建立完善守信联合激励和失信联合惩戒制度的指导意见》";
    break;
  case CX_CAT_COMMITMENT:
    sub = rng_pct(r, 85) ? CX_SUB_KEPT : CX_SUB_BROKEN;
    until = dd + (sub == CX_SUB_KEPT ? 365 : 1095);
    snprintf(b->content, sizeof b->content, "%s", sub == CX_SUB_KEPT ? "信用承诺已履行" : "信用承诺未履行");
    basis = "告知承诺制";
    if (sub == CX_SUB_BROKEN) {
      sanction = 1;
      if (g->n_lists[CX_CAT_COMMITMENT] && rng_pct(r, 50))
        list = g->lists[CX_CAT_COMMITMENT][rng_below(r, (uint32_t)g->n_lists[CX_CAT_COMMITMENT])];
    }
    break;
  case CX_CAT_LAWSUIT: {
    /* a lost case names why the court found against the body (行政诉讼法 第七十条): what a
     * scorecard's drill-down shows as the causes of its 败诉率 */
    static const char *const LOSS_CAUSES[] = {"主要证据不足", "适用法律、法规错误", "违反法定程序",
                                              "超越职权", "滥用职权", "明显不当", "不履行法定职责"};
    sub = rng_pct(r, 75) ? CX_SUB_WON : CX_SUB_LOST;
    until = dd + 1095;
    if (sub == CX_SUB_WON) snprintf(b->content, sizeof b->content, "行政诉讼胜诉");
    else snprintf(b->content, sizeof b->content, "行政诉讼败诉：%s", PICK(r, LOSS_CAUSES));
    basis = "《中华人民共和国行政诉讼法》";
    break;
  }
  case CX_CAT_COMPLAINT:
    until = dd + 365;
    sev = rng_pct(r, 30) ? CX_SEV_MINOR : CX_SEV_GENERAL;
    snprintf(b->content, sizeof b->content, "%s", rng_pct(r, 50) ? "消费投诉经查属实" : "群众投诉经查属实");
    break;
  case CX_CAT_ABNORMAL: {
    /* 经营异常名录: listed by 市场监管 for a missing annual report or an unreachable address;
     * most are removed (移出, valid_until) once they report or are reached again. */
    static const char *const why[] = {"未按规定期限公示年度报告", "通过登记的住所或者经营场所无法联系"};
    const char *want = e->kind == CX_KIND_INDIVIDUAL_BUSINESS ? "abnormal_status" : "abnormal_operation";
    for (int k = 0; k < g->n_lists[CX_CAT_ABNORMAL]; k++)
      if (strcmp(g->cat->lists[g->lists[CX_CAT_ABNORMAL][k]].code, want) == 0) list = g->lists[CX_CAT_ABNORMAL][k];
    snprintf(b->content, sizeof b->content, "%s，列入%s", PICK(r, why),
             list >= 0 ? g->cat->lists[list].name : "经营异常名录");
    basis = "《企业信息公示暂行条例》第十七条";
    b->dept = dept_by_abbr("市监");
    until = rng_pct(r, 70) ? dd + 30 + rng_below(r, 400) : CX_DAY_OPEN;
    sanction = 1;
    break;
  }
  case CX_CAT_COMPULSION: {
    sub = rng_pct(r, 70) ? CX_SUB_COERCIVE_MEASURE : CX_SUB_ENFORCEMENT;
    const penalty_case *cc = sub == CX_SUB_ENFORCEMENT ? PICK_CASE(r, ENFORCEMENT_CASES) : PICK_CASE(r, COERCIVE_CASES);
    snprintf(b->content, sizeof b->content, "%s", cc->name_or_fact);
    basis = cc->basis;
    b->dept = dept_by_abbr(cc->abbr);
    until = dd + (sub == CX_SUB_COERCIVE_MEASURE ? 30 : 365); /* 查封扣押: at most 30 days */
    sanction = sub == CX_SUB_ENFORCEMENT;
    break;
  }
  case CX_CAT_CONFIRMATION: {
    const penalty_case *cc = PICK_CASE(r, CONFIRMATION_CASES);
    if (e->kind == CX_KIND_PERSON) cc = &CONFIRMATION_CASES[0]; /* persons: 工伤认定 only */
    else if (cc == &CONFIRMATION_CASES[0]) cc = &CONFIRMATION_CASES[1];
    snprintf(b->content, sizeof b->content, "%s", cc->name_or_fact);
    basis = cc->basis;
    b->dept = dept_by_abbr(cc->abbr);
    if (!rng_pct(r, 50)) until = dd + 365 * 3;
    break;
  }
  case CX_CAT_INSPECTION: {
    const penalty_case *ic = PICK_CASE(r, INSPECTION_CASES);
    sub = rng_pct(r, 80) ? CX_SUB_COMPLIANT : CX_SUB_VIOLATION;
    snprintf(b->content, sizeof b->content, "%s：%s", ic->name_or_fact,
             sub == CX_SUB_COMPLIANT ? "未发现问题" : "发现问题，责令限期改正");
    basis = ic->basis;
    b->dept = dept_by_abbr(ic->abbr);
    until = dd + 365;
    sanction = sub == CX_SUB_VIOLATION;
    break;
  }
  case CX_CAT_EVALUATION:
    until = dd + 365;
    snprintf(b->content, sizeof b->content, "公共信用综合评价%c级", "ABBBCD"[rng_below(r, 6)]);
    if (g->n_lists[CX_CAT_EVALUATION] && rng_pct(r, 8)) {
      list = g->lists[CX_CAT_EVALUATION][rng_below(r, (uint32_t)g->n_lists[CX_CAT_EVALUATION])];
      snprintf(b->content, sizeof b->content, "列入%s", g->cat->lists[list].name);
    }
    break;
  }
  /* 公务员诚信档案: a civil servant's 政务失信 record is reported by the body the civil servant
   * works for (its 任免机关) in most cases, else by the supervision commission */
  const struct auth *a =
      e->employer != UINT32_MAX && cat == CX_CAT_GOV_DISHONESTY && rng_pct(r, 60)
          ? &g->auths[e->employer]
          : pick_auth_dept(g, r, e->region, e->auth, b->dept >= 0 ? b->dept : want_dept(g, cat, sub, list));
  rec->authority_code = (cx_str){a->code, CX_CODE_LEN};
  rec->authority_name = cstr(a->name);
  /* half the penalties leave their tier to the catalogue's rules (they find the same one) */
  rec->severity = cat == CX_CAT_PENALTY && rng_pct(r, 50) ? CX_SEV_UNSET : sev;
  rec->subtype = sub;
  rec->valid_until = until;
  if (list >= 0) rec->list_type = cstr(g->cat->lists[list].code);
  rec->measures = cstr(b->measures);
  rec->content = cstr(b->content);
  rec->basis = cstr(basis);

  /* domain: sub-district offices are their own domain; most records are "other" */
  if (e->kind == CX_KIND_SUBDISTRICT && rng_pct(r, 70)) {
    rec->domain = CX_DOM_SUBDISTRICT;
  } else {
    static const uint8_t dw[CX_DOM_COUNT] = {8, 2, 8, 3, 2, 0, 77};
    rec->domain = (uint8_t)pick_w(r, dw, CX_DOM_COUNT);
  }

  /* status: sanctions get repaired (more often the older they are), a few get revoked */
  x = rng_below(r, 1000);
  if (sanction) {
    uint32_t age_pm = (uint32_t)((g->d_last - dd) * 250 / span); /* 0..250 per mille */
    if (x < 10)
      rec->status = CX_ST_REVOKED;
    else if (x < 10 + age_pm && sev != CX_SEV_MINOR)
      rec->status = CX_ST_REPAIRED;
    else if (rng_permille(r, 15))
      rec->objection = 1;
  } else if (x < 5) {
    rec->status = CX_ST_REVOKED;
  }

  int y, m, d;
  cx_day_to_ymd(dd, &y, &m, &d);
  snprintf(b->record_id, sizeof b->record_id, "%s%s〔%d〕%llu号", a->abbr, CAT_DOC[cat], y,
           (unsigned long long)gidx + 1);
  rec->record_id = cstr(b->record_id);
}

/* ===================================================================== setup */

static int gen_setup(gen *g) {
  /* catalogue list types per category */
  for (uint32_t i = 0; i < g->cat->n_lists; i++) {
    int c = g->cat->lists[i].category;
    if (c < 0 || c >= CX_CAT_COUNT) continue;
    g->lists[c][g->n_lists[c]++] = (int)i;
    if (c == CX_CAT_BLACKLIST && g->n_person_lists < 4 &&
        (strstr(g->cat->lists[i].code, "court") || strstr(g->cat->lists[i].code, "tax")))
      g->person_lists[g->n_person_lists++] = (int)i;
  }
  for (uint32_t i = 0; i < g->cat->n_measures; i++) {
    if (g->cat->measures[i].effect == CX_EFFECT_INCENTIVE)
      g->incentive_mask |= 1ull << i;
    else
      g->deny_review_mask |= 1ull << i;
  }
  cx_day_from_ymd(2020, 1, 1, &g->d_first);
  cx_day_from_ymd(2025, 12, 31, &g->d_last);
  cx_day_from_ymd(1971, 1, 1, &g->d_birth);
  if (gen_regions(g)) return -1;
  if (gen_authorities(g)) return -1;
  /* records per entity: 1 + a share of the rest proportional to a capped Pareto weight */
  g->weights = cx_malloc((size_t)g->n_ent * sizeof *g->weights);
  if (!g->weights) return -1;
  rng r;
  rng_seed(&r, g->seed, 0xBEEF);
  g->wsum = 0;
  for (uint32_t i = 0; i < g->n_ent; i++) {
    double w = pow(rng_unit(&r), -1.0 / 1.16) - 0.8; /* >= 0.2: some entities have 1 record */
    if (w > 3000) w = 3000;
    g->weights[i] = (float)w;
    g->wsum += (double)g->weights[i];
  }
  return 0;
}

static void gen_cleanup(gen *g) {
  free(g->counties);
  free(g->fj);
  free(g->auths);
  for (int i = 0; i < 100; i++) free(g->auth_by_prov[i]);
  for (int i = 0; i < 32; i++) free(g->auth_by_dept[i]);
  free(g->weights);
}

/* ===================================================================== text output */

static void put_csv(FILE *f, const char *s, size_t n) {
  int q = 0;
  for (size_t i = 0; i < n; i++)
    if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r') q = 1;
  if (!q) {
    if (n) fwrite(s, 1, n, f);
    return;
  }
  fputc('"', f);
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '"') fputc('"', f);
    fputc(s[i], f);
  }
  fputc('"', f);
}

static void put_json(FILE *f, const char *s, size_t n) {
  fputc('"', f);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      fputc('\\', f);
      fputc(c, f);
    } else if (c < 0x20) {
      fprintf(f, "\\u%04x", c);
    } else {
      fputc(c, f);
    }
  }
  fputc('"', f);
}

/* The canonical CSV's columns: the gen rows of CX_RECORD_FIELDS (store.h), in its order. */
static cx_str field_value(const cx_record *r, int f, char d[4][11], char *amt) {
  switch (f) {
  case CX_RF_ENTITY_CODE: return r->entity_code;
  case CX_RF_ENTITY_NAME: return r->entity_name;
  case CX_RF_ENTITY_KIND: return cstr(cx_kind_names[r->entity_kind]);
  case CX_RF_RECORD_ID: return r->record_id;
  case CX_RF_AUTHORITY_CODE: return r->authority_code;
  case CX_RF_AUTHORITY_NAME: return r->authority_name;
  case CX_RF_CATEGORY: return cstr(cx_category_names[r->category]);
  case CX_RF_SUBTYPE: return cstr(cx_subtype_names[r->subtype]);
  case CX_RF_DOMAIN: return cstr(cx_domain_names[r->domain]);
  case CX_RF_SEVERITY: return cstr(r->severity < CX_SEV_COUNT ? cx_severity_names[r->severity] : "");
  case CX_RF_DECISION_DATE: return cstr(d[0]);
  case CX_RF_REPORT_DATE: return cstr(d[1]);
  case CX_RF_VALID_FROM: return cstr(d[2]);
  case CX_RF_VALID_UNTIL: return cstr(d[3]);
  case CX_RF_STATUS: return cstr(cx_status_names[r->status]);
  case CX_RF_OBJECTION: return cstr(r->objection ? "true" : "false");
  case CX_RF_AMOUNT_FEN: return cstr(amt);
  case CX_RF_LIST_TYPE: return r->list_type;
  case CX_RF_MEASURES: return r->measures;
  case CX_RF_BASIS: return r->basis;
  case CX_RF_CONTENT: return r->content;
  default: return cstr(""); /* not a gen column */
  }
}

static void write_record(FILE *f, int jsonl, const cx_record *r) {
  char d[4][11], amt[24];
  cx_day_format(r->decision_date, d[0]);
  cx_day_format(r->report_date, d[1]);
  cx_day_format(r->valid_from, d[2]);
  cx_day_format(r->valid_until, d[3]);
  snprintf(amt, sizeof amt, "%lld", (long long)r->amount_fen);
  if (!jsonl) {
    int first = 1;
    for (int i = 0; i < CX_RF_COUNT; i++) {
      if (!cx_record_fields[i].gen) continue;
      if (!first) fputc(',', f);
      first = 0;
      cx_str v = field_value(r, i, d, amt);
      put_csv(f, v.p, v.n);
    }
    fputc('\n', f);
    return;
  }
  fputc('{', f);
  int first = 1;
  for (int i = 0; i < CX_RF_COUNT; i++) {
    if (!cx_record_fields[i].gen) continue;
    cx_str v = field_value(r, i, d, amt);
    if (v.n == 0) continue; /* empty = default */
    if (!first) fputc(',', f);
    first = 0;
    const char *name = cx_record_fields[i].name;
    put_json(f, name, strlen(name));
    fputc(':', f);
    if (cx_record_fields[i].kind == CX_FK_AMOUNT || cx_record_fields[i].kind == CX_FK_BOOL)
      fwrite(v.p, 1, v.n, f);
    else
      put_json(f, v.p, v.n);
  }
  fputs("}\n", f);
}
/* ===================================================================== command */

static const char GEN_USAGE[] =
    "usage: chengxin gen --entities N --records M [--seed S] (--db PATH | --out FILE)\n"
    "                    [--format csv|jsonl] [--batch K] [--group-read] [--quiet]\n";

/* Each generated batch is a write like any other: one audit line per commit. */
static int gen_audit(cx_batch *b) {
  char det[48];
  snprintf(det, sizeof det, "records=%zu", cx_batch_size(b));
  return cli_audit_batch(b, "gen", "", det);
}

int cli_cmd_gen(int argc, char **argv) {
  static const struct option opts[] = {
      {"entities", required_argument, 0, 'e'}, {"records", required_argument, 0, 'r'},
      {"seed", required_argument, 0, 's'},     {"db", required_argument, 0, 'd'},
      {"out", required_argument, 0, 'o'},      {"format", required_argument, 0, 'f'},
      {"batch", required_argument, 0, 'b'},    {"quiet", no_argument, 0, 'q'},
      {"help", no_argument, 0, 'h'},           {"group-read", no_argument, 0, 'g'},
      {0, 0, 0, 0},
  };
  uint64_t n_ent = 0, n_rec = 0, seed = 1, batch = 10000;
  const char *db = NULL, *out = NULL, *fmt = NULL;
  int quiet = 0, group_read = 0, c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'e':
      if (cli_parse_u64(optarg, &n_ent) || n_ent == 0 || n_ent > 17000000)
        return cli_usage("gen: --entities: expected 1..17000000, got '%s'", optarg);
      break;
    case 'r':
      if (cli_parse_u64(optarg, &n_rec) || n_rec == 0 || n_rec > 4000000000ull)
        return cli_usage("gen: --records: expected a positive count, got '%s'", optarg);
      break;
    case 's':
      if (cli_parse_u64(optarg, &seed)) return cli_usage("gen: --seed: expected an integer, got '%s'", optarg);
      break;
    case 'd': db = optarg; break;
    case 'o': out = optarg; break;
    case 'f':
      if (strcmp(optarg, "csv") && strcmp(optarg, "jsonl"))
        return cli_usage("gen: --format: expected csv or jsonl, got '%s'", optarg);
      fmt = optarg;
      break;
    case 'b':
      if (cli_parse_u64(optarg, &batch) || batch == 0 || batch > 1000000)
        return cli_usage("gen: --batch: expected 1..1000000, got '%s'", optarg);
      break;
    case 'q': quiet = 1; break;
    case 'g': group_read = 1; break;
    case 'h': fputs(GEN_USAGE, stdout); return 0;
    default: return cli_usage("gen: bad option");
    }
  }
  if (optind < argc) return cli_usage("gen: unexpected argument '%s'", argv[optind]);
  if (!n_ent || !n_rec) return cli_usage("gen: --entities and --records are required");
  if (n_rec < n_ent) return cli_usage("gen: --records must be at least --entities (every entity has a record)");
  if (!!db == !!out) return cli_usage("gen: give exactly one of --db PATH and --out FILE");
  if (group_read && !db) return cli_usage("gen: --group-read is for --db (a new store)");
  int jsonl = 0;
  if (out) {
    if (fmt)
      jsonl = strcmp(fmt, "jsonl") == 0;
    else {
      size_t n = strlen(out);
      jsonl = (n > 6 && strcmp(out + n - 6, ".jsonl") == 0) || (n > 7 && strcmp(out + n - 7, ".ndjson") == 0) ||
              (n > 5 && strcmp(out + n - 5, ".json") == 0);
    }
  }

  gen g;
  memset(&g, 0, sizeof g);
  g.seed = seed;
  g.n_ent = (uint32_t)n_ent;
  g.n_rec = n_rec;
  g.n_auth = (uint32_t)(n_ent / 40);
  if (g.n_auth < 21) g.n_auth = 21;
  if (g.n_auth > 400) g.n_auth = 400;
  if (g.n_auth > n_ent / 2) g.n_auth = (uint32_t)(n_ent / 2);
  if (g.n_auth == 0) g.n_auth = 1;

  int rc = CLI_EXIT_FAIL;
  cx_store *st = NULL;
  cx_calendar *own_cal = NULL;
  cx_catalog *own_cat = NULL;
  cx_batch *b = NULL;
  FILE *f = NULL;
  cx_batch_result tot;
  memset(&tot, 0, sizeof tot);
  uint64_t rejected = 0;

  if (db) {
    cx_store_opts so;
    memset(&so, 0, sizeof so);
    so.create = 1;
    so.bulk = 1;
    uint64_t want = n_rec * 700ull;
    so.map_size = want < (1ull << 30) ? (1ull << 30) : (want + (1ull << 30) - 1) & ~((1ull << 30) - 1);
    so.group_read = group_read;
    if (cli_store_open_opts(db, &so, &st)) return CLI_EXIT_FAIL; /* says why */
    g.cal = cx_store_calendar(st);
    g.cat = cx_store_catalog(st);
    /* Into a store with no record: one bulk load (store.h, cx_store_bulk_begin), as `chengxin
     * import` does — a crash before its end leaves the store empty; else batch by batch. */
    cx_store_info in;
    int e = cx_store_info_get(st, &in);
    if (!e && !in.records && !in.entities) e = cx_store_bulk_begin(st);
    if (e) {
      cli_err(cx_store_errmsg(st), "gen: bulk load: %s", cx_strerror(e));
      cx_store_close(st);
      return CLI_EXIT_FAIL;
    }
  } else {
    int bad = 0;
    own_cal = cx_malloc(sizeof *own_cal);
    own_cat = cx_malloc(sizeof *own_cat);
    if (!own_cal || !own_cat) goto done;
    if (cx_calendar_parse(cx_data_calendar, cx_data_calendar_len, own_cal, &bad) ||
        cx_catalog_parse(cx_data_catalog, cx_data_catalog_len, own_cat, &bad)) {
      cli_err("embedded data file does not parse", "gen");
      goto done;
    }
    g.cal = own_cal;
    g.cat = own_cat;
    f = strcmp(out, "-") == 0 ? stdout : fopen(out, "w");
    if (!f) {
      cli_err(strerror(errno), "gen: %s", out);
      goto done;
    }
    static char obuf[1 << 20];
    setvbuf(f, obuf, _IOFBF, sizeof obuf);
    if (!jsonl) {
      for (int i = 0, k = 0; i < CX_RF_COUNT; i++)
        if (cx_record_fields[i].gen) fprintf(f, "%s%s", k++ ? "," : "", cx_record_fields[i].name);
      fputc('\n', f);
    }
  }
  if (gen_setup(&g)) {
    cli_err("out of memory", "gen");
    goto done;
  }

  double t0 = cli_now(), last = t0;
  int tty = !quiet && isatty(2);
  uint64_t gidx = 0, extra = n_rec - n_ent, assigned = 0;
  double cum = 0;
  rec_buf rb;
  cx_record rec;
  for (uint32_t i = 0; i < g.n_ent; i++) {
    rng r;
    rng_seed(&r, seed, (uint64_t)i + 1);
    ent e;
    gen_entity(&g, i, &r, &e);
    cum += (double)g.weights[i];
    uint64_t upto = i + 1 == g.n_ent ? extra : (uint64_t)floor((double)extra * (cum / g.wsum));
    if (upto > extra) upto = extra;
    if (upto < assigned) upto = assigned;
    uint64_t nr = 1 + (upto - assigned);
    assigned = upto;
    for (uint64_t k = 0; k < nr; k++, gidx++) {
      gen_record(&g, &e, gidx, &r, &rec, &rb);
      if (!db) {
        write_record(f, jsonl, &rec);
        continue;
      }
      if (!b) {
        int e2 = cx_batch_begin(st, &b);
        if (e2) {
          cli_err(cx_strerror(e2), "gen: batch");
          goto done;
        }
      }
      const char *why = NULL;
      int e3 = cx_batch_put(b, &rec, &why);
      if (e3) { /* a generator bug: say which record and go on */
        if (rejected++ < 10)
          cli_err(why ? why : cx_strerror(e3), "gen: record %s of %s rejected", rb.record_id, e.code);
      }
      if (cx_batch_size(b) >= batch) {
        cx_batch_result br;
        int e4 = gen_audit(b);
        if (!e4) e4 = cx_batch_commit(b, &br);
        else cx_batch_abort(b);
        b = NULL;
        if (e4) {
          cli_err(cx_store_errmsg(st), "gen: commit: %s", cx_strerror(e4));
          goto done;
        }
        tot.inserted += br.inserted, tot.replaced += br.replaced, tot.unchanged += br.unchanged;
      }
    }
    if (tty && (i & 1023) == 0) {
      double now = cli_now();
      if (now - last > 0.25) {
        last = now;
        double rate = (double)gidx / (now - t0);
        fprintf(stderr, "\r%llu/%llu records  %.0f rec/s  ETA %.0fs   ", (unsigned long long)gidx,
                (unsigned long long)n_rec, rate, rate > 0 ? (double)(n_rec - gidx) / rate : 0.0);
      }
    }
  }
  if (b) {
    cx_batch_result br;
    int e4 = gen_audit(b);
    if (!e4) e4 = cx_batch_commit(b, &br);
    else cx_batch_abort(b);
    b = NULL;
    if (e4) {
      cli_err(cx_store_errmsg(st), "gen: commit: %s", cx_strerror(e4));
      goto done;
    }
    tot.inserted += br.inserted, tot.replaced += br.replaced, tot.unchanged += br.unchanged;
  }
  if (f && fflush(f) != 0) {
    cli_err(strerror(errno), "gen: %s", out);
    goto done;
  }
  if (st && cx_store_bulk_active(st)) { /* the summaries, the sync and the one commit */
    int e5 = cx_store_load_end(st);
    if (e5) {
      cli_err(cx_store_errmsg(st), "gen: bulk load commit: %s", cx_strerror(e5));
      goto done;
    }
  }
  double secs = cli_now() - t0;
  if (tty) fputs("\r\033[K", stderr);
  if (!quiet) {
    if (db)
      fprintf(stderr,
              "gen: %u entities, %llu records (%u inserted, %u replaced, %u unchanged, %llu rejected) "
              "in %.2f s, %.0f records/s\n",
              g.n_ent, (unsigned long long)gidx, tot.inserted, tot.replaced, tot.unchanged,
              (unsigned long long)rejected, secs, secs > 0 ? (double)gidx / secs : 0.0);
    else
      fprintf(stderr, "gen: %u entities, %llu records in %.2f s\n", g.n_ent, (unsigned long long)gidx, secs);
  }
  rc = rejected ? CLI_EXIT_FAIL : CLI_EXIT_OK;
done:
  if (b) cx_batch_abort(b);
  if (f && f != stdout) {
    if (fclose(f) != 0 && rc == 0) {
      cli_err(strerror(errno), "gen: %s", out);
      rc = CLI_EXIT_FAIL;
    }
  }
  if (st) cx_store_close(st);
  free(own_cal);
  free(own_cat);
  gen_cleanup(&g);
  return rc;
}
