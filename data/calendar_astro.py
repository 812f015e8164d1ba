#!/usr/bin/env python3
"""Checks store/calendar.c's lunar table and 清明 formula against astronomy, and prints the
reference dates that tests/store/test_calendar.c holds.

Needs PyEphem (Debian: apt-get install python3-ephem; run it with /usr/bin/python3):

    /usr/bin/python3 data/calendar_astro.py            # differences, then the test's strings

The Chinese calendar from astronomy (the rules of GB/T 33661-2017): a month starts on the
Beijing day (UTC+8) of a new moon; the month holding the winter solstice is 十一月; in a
year of 13 months between two such months, the first month without a major solar term
(中气, the sun at a multiple of 30°) is the 闰月 and takes the number of the month before it.
The table follows Beijing local time (UTC+7:46) up to 1933, so 1914..1933 differ here; new
moons within seconds of midnight (2057-09-28) are beyond this program's accuracy.
"""
import datetime
import math
import os
import re
import sys

import ephem

TZ = 8 / 24.0
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def beijing(t):
    """ephem.Date (UT) -> (Beijing date, minutes after midnight)."""
    x = ephem.Date(t + TZ).datetime()
    return x.date(), x.hour * 60 + x.minute + x.second / 60


def sun_longitude(t):
    s = ephem.Sun()
    s.compute(t)
    return math.degrees(ephem.Ecliptic(ephem.Equatorial(s.g_ra, s.g_dec, epoch=t), epoch=t).lon)


def term(lon, near):
    """The time (UT) the apparent solar longitude is lon, within 20 days of near."""
    lo, hi = ephem.Date(near - 20), ephem.Date(near + 20)
    for _ in range(60):
        mid = ephem.Date((lo + hi) / 2)
        if (sun_longitude(mid) - lon + 180) % 360 - 180 < 0:
            lo = mid
        else:
            hi = mid
    return ephem.Date((lo + hi) / 2)


def months():
    """Month starts 1899..2101: a list of (date, number, leap)."""
    starts, t = [], ephem.Date('1899/10/01')
    while t < ephem.Date('2102/03/01'):
        t = ephem.next_new_moon(t)
        starts.append(beijing(t)[0])
        t = ephem.Date(t + 1)
    major = []
    for y in range(1899, 2102):
        for k in range(12):
            major.append((beijing(term(k * 30, ephem.Date(f'{y}/3/20') + k * 30.44))[0], k * 30))

    def index(day):
        return next(i for i in range(len(starts) - 1) if starts[i] <= day < starts[i + 1])

    def has_major(i):
        return any(starts[i] <= d < starts[i + 1] for d, _ in major)

    solstice = {d.year: d for d, lon in major if lon == 270}
    out = {}
    for y in range(1900, 2102):
        a, b = index(solstice[y - 1]), index(solstice[y])
        leap_done, num = b - a == 12, 11
        out[a] = (11, False)
        for i in range(a + 1, b):
            if not leap_done and not has_major(i):
                out[i] = (num, True)
                leap_done = True
            else:
                num = num % 12 + 1
                out[i] = (num, False)
    return starts, out


def table_words(starts, label):
    """lunar_info words (calendar.c's layout) for lunar years 1900..2100."""
    words = {}
    for i in sorted(label):
        if label[i] != (1, False) or not 1900 <= starts[i].year <= 2100:
            continue
        v, j = 0, i
        while True:
            num, leap = label[j]
            if (starts[j + 1] - starts[j]).days == 30:
                v |= 0x10000 if leap else 0x10000 >> num
            if leap:
                v |= num
            j += 1
            if label.get(j) == (1, False) or j not in label:
                break
        words[starts[i].year] = v
    return words


def main():
    src = open(os.path.join(ROOT, 'store', 'calendar.c'), encoding='utf-8').read()
    body = src[src.index('lunar_info[LUNAR_LAST - LUNAR_FIRST + 1] = {'):]
    body = body[:body.index('};')]
    table = [int(x, 16) for x in re.findall(r'0x[0-9a-f]{5}', body)]
    assert len(table) == 201, len(table)

    starts, label = months()
    words = table_words(starts, label)
    print('lunar table against astronomy (word: table / astronomy):')
    for y in range(1900, 2101):
        if words[y] != table[y - 1900]:
            print(f'  {y}: {table[y - 1900]:#07x} / {words[y]:#07x}')

    print('清明 formula against astronomy:')
    qingming = {}
    for y in range(1971, 2100):
        d, minutes = beijing(term(15, ephem.Date(f'{y}/4/5')))
        yy, c = y % 100, 55900 if y < 2000 else 48100
        formula = (yy * 2422 + c) // 10000 - yy // 4
        qingming[y] = d.day
        if formula != d.day or minutes < 30 or minutes > 1410:
            print(f'  {y}: formula 04-{formula:02d}, term {d} {int(minutes) // 60:02d}:{int(minutes) % 60:02d}')

    def lunar(y, m, d):
        i = next(i for i in label if label[i] == (m, False) and
                 (starts[i].year == y if m == 1 else starts[i] > starts_of_year[y]))
        return starts[i] + datetime.timedelta(d - 1)

    starts_of_year = {starts[i].year: starts[i] for i in label if label[i] == (1, False)}
    years = range(1990, 2100)

    def mmdd(days):
        s = ''.join(f'{x.month:02d}{x.day:02d}' for x in days)
        return '\n'.join(f'    "{s[i:i + 80]}"' for i in range(0, len(s), 80))

    print('test reference strings, 1990..2099:')
    print('spring_1990 =\n' + mmdd([lunar(y, 1, 1) for y in years]) + ';')
    print('dragon_1990 =\n' + mmdd([lunar(y, 5, 5) for y in years]) + ';')
    print('mid_1990 =\n' + mmdd([lunar(y, 8, 15) for y in years]) + ';')
    print('qingming_1990 =\n    "' + ''.join(str(qingming[y]) for y in years) + '";')


if __name__ == '__main__':
    sys.exit(main())
