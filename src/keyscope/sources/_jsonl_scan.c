/*
 * keyscope's JSON-lines scanner: the usage aggregation of a plain log in one pass.
 *
 * DuckDB's JSON reader plus its hash aggregates cost about 6 CPU-s for ten million lines,
 * most of it finding and parsing lines in general JSON.  Gateway logs are nearly always
 * the same kind: one object a line, the fields keyscope reads as plain ASCII strings (the
 * path may hold UTF-8), zoned ISO timestamps, and most lines repeating an earlier one but
 * for the timestamp.  This scanner handles exactly that kind and aggregates as it goes, on
 * several threads.  Anything outside it (an escape in a field it reads, invalid UTF-8, a
 * lone surrogate, a blank line, an unreadable timestamp, a path that is not a path, a
 * malformed method or key id, a duplicate or case-variant field name, a request or event
 * id...) makes it give up on the whole plan and return None: DuckDB then reads the plan
 * as before, so the scanner never decides a question DuckDB's reader could answer
 * differently.  tests/unit/test_jsonl_scanner.py compares the two on every shape.
 *
 * scan(files, fields, stop_names, start_us, end_us, threads) -> None or
 *   (lines, missing, bad_status, good, in_window, groups, daily, ranges)
 * files: paths as bytes; fields: the five mapped names (timestamp, key_id, method, path,
 * status) as bytes; stop_names: field names whose presence means giving up.
 * groups: [(key_id, METHOD, path without query, status class, count, first_us, last_us,
 * None)] of the good in-window lines; daily: [(key_id, day, success, denied)] sorted;
 * ranges: per file, (first_us, last_us) of its good in-window lines, or None.
 */
#define _GNU_SOURCE /* memmem */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIELD_COUNT 5
enum { F_TIMESTAMP, F_KEY, F_METHOD, F_PATH, F_STATUS };
#define MAX_MEMBERS 32
#define MAX_STOP_NAMES 8
#define BLOCK_BYTES (4u << 20)
/* Lines near DuckDB's 1 MiB object limit are the checked path's business. */
#define MAX_LINE_BYTES ((1u << 20) - 16)
#define DAY_US 86400000000LL
#define MAX_THREADS 64

/* ------------------------------------------------------------------ hashing */

static inline uint64_t mix(uint64_t h) {
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ULL;
    h ^= h >> 32;
    return h;
}

/* The first n (< 8) bytes at p as a zero-padded word.  Reads 8 bytes: only for text in a
   worker's buffer, which has slack after its data (a short memcpy into a word stalls the
   load that follows it, 12% of the scan). */
static inline uint64_t load_partial(const char *p, size_t n) {
    uint64_t w;
    memcpy(&w, p, 8);
    return n >= 8 ? w : w & ((1ULL << (8 * n)) - 1);
}

/* Hash of text in a worker's buffer (see load_partial). */
static uint64_t hash_bytes(const char *p, size_t n, uint64_t seed) {
    uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    if (n) {
        h = (h ^ load_partial(p, n)) * 0x9e3779b97f4a7c15ULL;
        h ^= h >> 29;
    }
    return mix(h);
}

/* Byte equality without a call: the texts compared here are short (ids, paths). */
static inline int same_bytes(const char *a, const char *b, size_t n) {
    while (n >= 8) {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y) return 0;
        a += 8;
        b += 8;
        n -= 8;
    }
    while (n--)
        if (*a++ != *b++) return 0;
    return 1;
}

/* ------------------------------------------------------------------ growable storage */

typedef struct {
    char *data;
    size_t used, size;
} Arena;

static int64_t arena_put(Arena *a, const char *p, size_t n) {
    if (a->used + n > a->size) {
        size_t size = a->size ? a->size : (1u << 16);
        while (a->used + n > size) size *= 2;
        char *grown = realloc(a->data, size);
        if (!grown) return -1;
        a->data = grown;
        a->size = size;
    }
    memcpy(a->data + a->used, p, n);
    a->used += n;
    return (int64_t)(a->used - n);
}

/* Text entries (key ids, routes) in a growable vector, found through open addressing
   over their indices (0 = empty); the text itself lives in the arena. */
typedef struct {
    uint64_t hash;
    uint64_t offset;
    uint32_t length, split; /* a route: "METHOD" is the first `split` bytes, then the path */
    uint32_t middle;        /* a request: the key id (split), the method (middle), the path */
} TextEntry;

typedef struct {
    uint32_t *slots;
    size_t mask, used;
    TextEntry *items;
    size_t count, size;
} TextTable;

/* Counters keyed by one integer, stored in the slots themselves (0 = empty): a line
   costs one cache miss per table rather than two. */
typedef struct {
    uint64_t id;
    int64_t a, b, c;
} Counter;

typedef struct {
    Counter *slots;
    size_t mask, used;
} CounterTable;

static int text_table_init(TextTable *t, size_t slots) {
    memset(t, 0, sizeof(*t));
    t->slots = calloc(slots, sizeof(uint32_t));
    t->mask = slots - 1;
    return t->slots ? 0 : -1;
}

static int counter_table_init(CounterTable *t, size_t slots) {
    t->slots = calloc(slots, sizeof(Counter));
    t->mask = slots - 1;
    t->used = 0;
    return t->slots ? 0 : -1;
}

static int text_table_grow(TextTable *t) {
    size_t slots = (t->mask + 1) * 2;
    uint32_t *grown = calloc(slots, sizeof(uint32_t));
    if (!grown) return -1;
    for (size_t i = 0; i < t->count; i++) {
        size_t s = t->items[i].hash & (slots - 1);
        while (grown[s]) s = (s + 1) & (slots - 1);
        grown[s] = (uint32_t)(i + 1);
    }
    free(t->slots);
    t->slots = grown;
    t->mask = slots - 1;
    return 0;
}

/* The index of the text `head` + `tail` (`split` = length of head), or -1 if absent. */
static inline int64_t text_find(const TextTable *t, const Arena *arena, const char *head,
                                size_t split, const char *tail, size_t tail_length, uint64_t h) {
    size_t s = h & t->mask;
    for (;;) {
        uint32_t e = t->slots[s];
        if (!e) return -1;
        const TextEntry *x = &t->items[e - 1];
        if (x->hash == h && x->split == split && x->length == split + tail_length &&
            same_bytes(arena->data + x->offset, head, split) &&
            same_bytes(arena->data + x->offset + split, tail, tail_length))
            return e - 1;
        s = (s + 1) & t->mask;
    }
}

/* The index of the text `head` + `tail` (`split` = length of head), added when new;
   -1 when out of memory or past 2^31 entries. */
static int64_t text_slot(TextTable *t, Arena *arena, const char *head, size_t split,
                         const char *tail, size_t tail_length, uint64_t h) {
    size_t s = h & t->mask;
    for (;;) {
        uint32_t e = t->slots[s];
        if (!e) break;
        TextEntry *x = &t->items[e - 1];
        if (x->hash == h && x->split == split && x->length == split + tail_length &&
            same_bytes(arena->data + x->offset, head, split) &&
            same_bytes(arena->data + x->offset + split, tail, tail_length))
            return e - 1;
        s = (s + 1) & t->mask;
    }
    if (t->count >= (1u << 31) || split + tail_length > UINT32_MAX) return -1;
    if (t->count == t->size) {
        size_t size = t->size ? t->size * 2 : 1024;
        TextEntry *grown = realloc(t->items, size * sizeof(TextEntry));
        if (!grown) return -1;
        t->items = grown;
        t->size = size;
    }
    int64_t offset = arena_put(arena, head, split);
    if (offset < 0 || arena_put(arena, tail, tail_length) < 0) return -1;
    t->items[t->count] = (TextEntry){h, (uint64_t)offset, (uint32_t)(split + tail_length),
                                     (uint32_t)split, 0};
    t->slots[s] = (uint32_t)++t->count;
    if (++t->used * 2 > t->mask + 1 && text_table_grow(t)) return -1;
    return (int64_t)t->count - 1;
}

static int counter_table_grow(CounterTable *t) {
    size_t slots = (t->mask + 1) * 2;
    Counter *grown = calloc(slots, sizeof(Counter));
    if (!grown) return -1;
    for (size_t i = 0; i <= t->mask; i++) {
        Counter *c = &t->slots[i];
        if (!c->id) continue;
        size_t s = mix(c->id) & (slots - 1);
        while (grown[s].id) s = (s + 1) & (slots - 1);
        grown[s] = *c;
    }
    free(t->slots);
    t->slots = grown;
    t->mask = slots - 1;
    return 0;
}

/* The counter for `id` (never 0), zeroed when new; NULL when out of memory.  The pointer
   is good until the next call. */
static Counter *counter(CounterTable *t, uint64_t id, int *is_new) {
    if (t->used * 2 >= t->mask + 1 && counter_table_grow(t)) return NULL;
    size_t s = mix(id) & t->mask;
    for (;;) {
        Counter *c = &t->slots[s];
        if (c->id == id) {
            *is_new = 0;
            return c;
        }
        if (!c->id) {
            c->id = id;
            t->used++;
            *is_new = 1;
            return c;
        }
        s = (s + 1) & t->mask;
    }
}

/* Group ids: key, route and status class in one integer (key + 1 keeps it from 0). */
#define GROUP_ID(key, route, klass) \
    ((((uint64_t)(key) + 1) << 34) | ((uint64_t)(route) << 2) | (uint64_t)(klass))
#define MAX_GROUP_KEYS ((1u << 30) - 2)
/* Day ids: key and day (offset to stay positive; days of years 1000-9999 fit). */
#define DAY_ID(key, day) ((((uint64_t)(key) + 1) << 32) | (uint64_t)((day) + (1LL << 31)))

/* ------------------------------------------------------------------ per-thread state */

typedef struct {
    const char *text;
    size_t length;
    uint64_t prefix, folded; /* the first 8 bytes, zero-padded; and with case folded */
} Name;

typedef struct {
    int64_t count, first, last;
} Tally;

typedef struct {
    uint32_t key, route;
    Tally tallies[4]; /* per status class */
} Request;

/* A good in-window line waiting for its tally (see apply_batch). */
#define BATCH 16
typedef struct {
    uint32_t request, klass;
    int64_t ts;
    uint64_t day_id;
} Pending;

/* A line waiting in the worker's queue (see scan_queued); its text is in the buffer. */
#define QUEUE 16
typedef struct {
    const char *p, *end;
    const char *ts_text, *ts_close; /* the timestamp's text, when found and readable */
    uint64_t hash;                  /* of the text before and after it */
    int64_t ts;
    int64_t found; /* the line's shape, or -1 */
} Line;

/* What a line comes to, once everything but its timestamp is known (see scan_line). */
enum { MISSING = 1, BAD_STATUS = 2, GOOD = 3 };
typedef struct {
    uint32_t outcome, request, klass;
} Shape;
/* Lines whose text, but for the timestamp, was seen before: at most this many kept, and
   none looked up once 65,536 lookups have missed while fewer than half as many hit
   (mostly unique lines). */
#define MAX_SHAPES (1u << 18)
#define SHAPE_TRIAL (1u << 16)

typedef struct Shared Shared;

typedef struct {
    Shared *shared;
    Arena arena;
    TextTable keys, routes;
    /* Each distinct (key id, METHOD, path) seen: its key and route, and its tallies per
       status class; one lookup a line, folded into `groups` when the scan ends. */
    TextTable requests;
    Request *request_data;
    CounterTable groups; /* a: count, b: first µs, c: last µs */
    CounterTable days;   /* a: success, b: denied */
    int64_t lines, missing, bad_status, good, in_window;
    int64_t *file_first, *file_last; /* per file, good in-window lines */
    char *buffer;
    /* work assignment */
    size_t file;
    int descriptor;
    int64_t start, end; /* byte range whose line starts belong to this thread */
    int failed;
    Pending batch[BATCH];
    int batched;
    Line queue[QUEUE];
    int queued;
    TextTable shapes; /* a line's text before its timestamp, then after it */
    Shape *shape_data;
    size_t shape_size;
    int64_t shape_misses, shape_hits;
    int shapes_off;
    PyThreadState **caller; /* set for the part the calling thread reads: Ctrl-C checks */
} Worker;

struct Shared {
    Name fields[FIELD_COUNT];
    char needle[260]; /* the timestamp's field name in quotes */
    size_t needle_length;
    Name stops[MAX_STOP_NAMES];
    size_t stop_count;
    int64_t start_us, end_us;
    size_t file_count;
    atomic_int give_up;
    int interrupted; /* a signal handler raised (KeyboardInterrupt): its error is set */
};

static int worker_init(Worker *w, Shared *shared) {
    memset(w, 0, sizeof(*w));
    w->shared = shared;
    w->buffer = malloc(BLOCK_BYTES + MAX_LINE_BYTES + 64);
    w->file_first = malloc(shared->file_count * sizeof(int64_t));
    w->file_last = malloc(shared->file_count * sizeof(int64_t));
    if (!w->buffer || !w->file_first || !w->file_last) return -1;
    for (size_t i = 0; i < shared->file_count; i++) {
        w->file_first[i] = INT64_MAX;
        w->file_last[i] = INT64_MIN;
    }
    if (text_table_init(&w->keys, 1024) || text_table_init(&w->routes, 4096) ||
        text_table_init(&w->requests, 8192) || text_table_init(&w->shapes, 8192) ||
        counter_table_init(&w->groups, 8192) || counter_table_init(&w->days, 8192))
        return -1;
    return 0;
}

static void worker_free(Worker *w) {
    free(w->arena.data);
    free(w->keys.slots);
    free(w->keys.items);
    free(w->routes.slots);
    free(w->routes.items);
    free(w->requests.slots);
    free(w->requests.items);
    free(w->request_data);
    free(w->shapes.slots);
    free(w->shapes.items);
    free(w->shape_data);
    free(w->groups.slots);
    free(w->days.slots);
    free(w->file_first);
    free(w->file_last);
    free(w->buffer);
}

static int add_group(Worker *w, uint64_t id, int64_t count, int64_t first, int64_t last) {
    int is_new;
    Counter *c = counter(&w->groups, id, &is_new);
    if (!c) return -1;
    if (is_new) {
        c->a = count;
        c->b = first;
        c->c = last;
    } else {
        c->a += count;
        if (first < c->b) c->b = first;
        if (last > c->c) c->c = last;
    }
    return 0;
}

static int add_day(Worker *w, uint64_t id, int64_t success, int64_t denied) {
    int is_new;
    Counter *c = counter(&w->days, id, &is_new);
    if (!c) return -1;
    c->a += success;
    c->b += denied;
    return 0;
}

/* The request (key id, METHOD, path) as an index into w->request_data, added when new;
   -1 when out of memory or past the tables' limits. */
static inline uint64_t request_hash(const char *key, size_t key_length, const char *method,
                                    size_t method_length, const char *path, size_t path_length) {
    return hash_bytes(path, path_length,
                      hash_bytes(method, method_length, hash_bytes(key, key_length, 11)));
}

static int64_t request_slot(Worker *w, const char *key, size_t key_length, const char *method,
                            size_t method_length, const char *path, size_t path_length,
                            uint64_t h) {
    TextTable *t = &w->requests;
    size_t length = key_length + method_length + path_length;
    size_t s = h & t->mask;
    for (;;) {
        uint32_t e = t->slots[s];
        if (!e) break;
        TextEntry *x = &t->items[e - 1];
        if (x->hash == h && x->length == length && x->split == key_length &&
            x->middle == method_length) {
            const char *text = w->arena.data + x->offset;
            if (same_bytes(text, key, key_length) &&
                same_bytes(text + key_length, method, method_length) &&
                same_bytes(text + key_length + method_length, path, path_length))
                return e - 1;
        }
        s = (s + 1) & t->mask;
    }
    int64_t key_index =
        text_slot(&w->keys, &w->arena, key, key_length, "", 0, hash_bytes(key, key_length, 7));
    int64_t route = text_slot(&w->routes, &w->arena, method, method_length, path, path_length,
                              hash_bytes(path, path_length, hash_bytes(method, method_length, 3)));
    if (key_index < 0 || key_index > MAX_GROUP_KEYS || route < 0 || t->count >= (1u << 31) ||
        length > UINT32_MAX)
        return -1;
    if (t->count == t->size) {
        size_t size = t->size ? t->size * 2 : 1024;
        TextEntry *items = realloc(t->items, size * sizeof(TextEntry));
        if (!items) return -1;
        t->items = items;
        Request *data = realloc(w->request_data, size * sizeof(Request));
        if (!data) return -1;
        w->request_data = data;
        t->size = size;
    }
    int64_t offset = arena_put(&w->arena, key, key_length);
    if (offset < 0 || arena_put(&w->arena, method, method_length) < 0 ||
        arena_put(&w->arena, path, path_length) < 0)
        return -1;
    t->items[t->count] = (TextEntry){h, (uint64_t)offset, (uint32_t)length, (uint32_t)key_length,
                                     (uint32_t)method_length};
    Request *r = &w->request_data[t->count];
    memset(r, 0, sizeof(*r));
    r->key = (uint32_t)key_index;
    r->route = (uint32_t)route;
    t->slots[s] = (uint32_t)++t->count;
    if (++t->used * 2 > t->mask + 1 && text_table_grow(t)) return -1;
    return (int64_t)t->count - 1;
}

/* Folds the requests' tallies into the groups (per key, route and status class). */
static int flush_requests(Worker *w) {
    for (size_t i = 0; i < w->requests.count; i++) {
        Request *r = &w->request_data[i];
        for (uint32_t klass = 0; klass < 4; klass++) {
            Tally *tally = &r->tallies[klass];
            if (tally->count && add_group(w, GROUP_ID(r->key, r->route, klass), tally->count,
                                          tally->first, tally->last))
                return -1;
            tally->count = 0;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ one line */

typedef struct {
    const char *text;
    size_t length;
    int kind; /* 0 absent, 1 string, 2 plain integer, 3 null, 4 anything else */
} Value;

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
/* Whether an 8-byte word holds a quote, a backslash, a control byte or a byte over 0x7F. */
static inline int special_word(uint64_t w) {
    uint64_t quote = w ^ (ONES * '"');
    uint64_t slash = w ^ (ONES * '\\');
    uint64_t found = ((quote - ONES) & ~quote) | ((slash - ONES) & ~slash) |
                     ((w - ONES * 0x20) & ~w) | w;
    return (found & HIGHS) != 0;
}

/* What a string may hold beyond printable ASCII. */
enum { ASCII_ONLY = 0, ESCAPES = 1, UTF8 = 2 };

/* The byte after one strictly valid UTF-8 sequence whose lead byte (>= 0x80) is at p, or
   NULL: overlong forms, surrogates and code points past U+10FFFF are refused, as by
   DuckDB's reader. */
static const char *utf8_end(const char *p, const char *end) {
    unsigned char c = (unsigned char)*p, low = 0x80, high = 0xBF;
    int continuation;
    if (c >= 0xC2 && c <= 0xDF) {
        continuation = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        continuation = 2;
        if (c == 0xE0) low = 0xA0;
        if (c == 0xED) high = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        continuation = 3;
        if (c == 0xF0) low = 0x90;
        if (c == 0xF4) high = 0x8F;
    } else {
        return NULL;
    }
    if (end - p <= continuation) return NULL;
    unsigned char first = (unsigned char)p[1];
    if (first < low || first > high) return NULL;
    for (int i = 2; i <= continuation; i++)
        if (((unsigned char)p[i] & 0xC0) != 0x80) return NULL;
    return p + continuation + 1;
}

static int hex4(const char *p, const char *end, unsigned *out) {
    if (end - p < 4) return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

/* The byte after one JSON escape at p (a backslash), or NULL: an unknown escape, a lone
   surrogate (DuckDB's reader refuses both) or \u0000 (not worth the question). */
static const char *escape_end(const char *p, const char *end) {
    if (end - p < 2) return NULL;
    switch (p[1]) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        return p + 2;
    case 'u': {
        unsigned unit, low;
        if (hex4(p + 2, end, &unit) || unit == 0 || (unit >= 0xDC00 && unit <= 0xDFFF))
            return NULL;
        if (unit < 0xD800 || unit > 0xDBFF) return p + 6;
        if (end - p < 12 || p[6] != '\\' || p[7] != 'u' || hex4(p + 8, end, &low) ||
            low < 0xDC00 || low > 0xDFFF)
            return NULL;
        return p + 12;
    }
    default:
        return NULL;
    }
}

/* string_end from a byte that is not plain printable ASCII (see there). */
static const char *string_end_slow(const char *p, const char *end, int allowed) {
    while (p < end) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') return p;
        if (c == '\\') {
            if (!(allowed & ESCAPES) || !(p = escape_end(p, end))) return NULL;
        } else if (c >= 0x80) {
            if (!(allowed & UTF8) || !(p = utf8_end(p, end))) return NULL;
        } else if (c < 0x20) {
            return NULL;
        } else {
            p++;
        }
    }
    return NULL;
}

/* The closing quote of a string starting at p (after its opening quote), or NULL when the
   string holds a control byte, an escape or a byte over 0x7F that `allowed` does not let
   by, or does not end on the line.  Plain ASCII goes eight bytes a step, inline. */
static inline __attribute__((always_inline)) const char *string_end(const char *p,
                                                                   const char *end,
                                                                   int allowed) {
    for (;;) {
        while (p + 8 <= end) {
            uint64_t w;
            memcpy(&w, p, 8);
            if (special_word(w)) break;
            p += 8;
        }
        for (int i = 0; i < 8; i++, p++) {
            if (p >= end) return NULL;
            unsigned char c = (unsigned char)*p;
            if (c == '"') return p;
            if (c == '\\' || c < 0x20 || c >= 0x80) return string_end_slow(p, end, allowed);
        }
    }
}

static inline const char *skip_blanks(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    return p;
}

static inline int is_digit(char c) { return c >= '0' && c <= '9'; }

/* A JSON number at p; sets *plain for an integer without fraction or exponent. */
static const char *number_end(const char *p, const char *end, int *plain) {
    *plain = 1;
    if (p < end && *p == '-') p++;
    if (p >= end || !is_digit(*p)) return NULL;
    if (*p == '0') {
        p++;
    } else {
        while (p < end && is_digit(*p)) p++;
    }
    if (p < end && *p == '.') {
        *plain = 0;
        p++;
        if (p >= end || !is_digit(*p)) return NULL;
        while (p < end && is_digit(*p)) p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        *plain = 0;
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || !is_digit(*p)) return NULL;
        while (p < end && is_digit(*p)) p++;
    }
    return p;
}

static inline int digits(const char *p, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(p[i])) return -1;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 0;
}

#define MAX_DEPTH 64

/* The byte after one JSON value at p that keyscope does not read (any valid JSON within
   MAX_DEPTH levels), or NULL.  Strict where DuckDB's reader is lenient (a trailing
   comma): giving up is always safe, accepting what DuckDB refuses never is. */
static const char *skip_value(const char *p, const char *end, int depth) {
    if (p >= end) return NULL;
    char c = *p;
    if (c == '"') {
        const char *close = string_end(p + 1, end, ESCAPES | UTF8);
        return close ? close + 1 : NULL;
    }
    if (c == '-' || is_digit(c)) {
        int plain;
        return number_end(p, end, &plain);
    }
    if (end - p >= 4 && (memcmp(p, "null", 4) == 0 || memcmp(p, "true", 4) == 0)) return p + 4;
    if (end - p >= 5 && memcmp(p, "false", 5) == 0) return p + 5;
    if ((c != '{' && c != '[') || depth >= MAX_DEPTH) return NULL;
    char close = c == '{' ? '}' : ']';
    p = skip_blanks(p + 1, end);
    if (p < end && *p == close) return p + 1;
    for (;;) {
        if (c == '{') {
            if (p >= end || *p != '"') return NULL;
            const char *quote = string_end(p + 1, end, ESCAPES | UTF8);
            if (!quote) return NULL;
            p = skip_blanks(quote + 1, end);
            if (p >= end || *p != ':') return NULL;
            p = skip_blanks(p + 1, end);
        }
        if (!(p = skip_value(p, end, depth + 1))) return NULL;
        p = skip_blanks(p, end);
        if (p < end && *p == ',') {
            p = skip_blanks(p + 1, end);
            continue;
        }
        return p < end && *p == close ? p + 1 : NULL;
    }
}

static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "YYYY-MM-DD[T ]HH:MM:SS[.f{1,6}](Z|+HH:MM|-HH:MM)" as UTC microseconds; -1 when the text
   has another form (then DuckDB decides, not us). */
static int parse_timestamp(const char *p, size_t n, int64_t *out) {
    int year, month, day, hour, minute, second;
    if (n < 20 || p[4] != '-' || p[7] != '-' || (p[10] != 'T' && p[10] != ' ') || p[13] != ':' ||
        p[16] != ':')
        return -1;
    if (digits(p, 4, &year) || digits(p + 5, 2, &month) || digits(p + 8, 2, &day) ||
        digits(p + 11, 2, &hour) || digits(p + 14, 2, &minute) || digits(p + 17, 2, &second))
        return -1;
    static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (year < 1000 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 ||
        second > 59)
        return -1;
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > month_days[month - 1] + (month == 2 && leap)) return -1;
    size_t i = 19;
    int64_t micros = 0;
    if (p[i] == '.') {
        size_t first = ++i;
        while (i < n && is_digit(p[i])) i++;
        size_t count = i - first;
        if (count < 1 || count > 6) return -1;
        for (size_t j = first; j < i; j++) micros = micros * 10 + (p[j] - '0');
        for (size_t j = count; j < 6; j++) micros *= 10;
    }
    int64_t offset_minutes = 0;
    if (i + 1 == n && p[i] == 'Z') {
        /* UTC */
    } else if (i + 6 == n && (p[i] == '+' || p[i] == '-') && p[i + 3] == ':') {
        int hours, minutes;
        if (digits(p + i + 1, 2, &hours) || digits(p + i + 4, 2, &minutes)) return -1;
        if (minutes > 59 || hours > 14 || (hours == 14 && minutes != 0)) return -1;
        offset_minutes = (int64_t)hours * 60 + minutes;
        if (p[i] == '-') offset_minutes = -offset_minutes;
    } else {
        return -1;
    }
    int64_t seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 +
                      second - offset_minutes * 60;
    *out = seconds * 1000000 + micros;
    return 0;
}

static inline uint64_t prefix_word(const char *p, size_t n) {
    uint64_t w = 0;
    memcpy(&w, p, n < 8 ? n : 8);
    return w;
}

/* ASCII letters' case folded (other bytes too, harmlessly: a false match only gives up). */
#define FOLD(w) ((w) | (ONES * 0x20))

static Name make_name(const char *text, size_t length) {
    uint64_t prefix = prefix_word(text, length);
    /* The fold keeps zero padding zero, so "ab" and "AB\x20" stay apart by length. */
    return (Name){text, length, prefix, FOLD(prefix)};
}

/* 0 different, 1 the same, 2 the same but for letter case. */
static inline int compare_name(const char *p, size_t n, uint64_t prefix, const Name *name) {
    if (n != name->length) return 0;
    if (prefix == name->prefix && (n <= 8 || same_bytes(p + 8, name->text + 8, n - 8)))
        return 1;
    if (FOLD(prefix) == name->folded && (n <= 8 || strncasecmp(p + 8, name->text + 8, n - 8) == 0))
        return 2;
    return 0;
}

/* Tallies the batched lines.  The tallies and the day counters outgrow the caches, so
   each step first asks for the memory of every line in the batch and then uses it: the
   misses overlap instead of queueing. */
static int apply_batch(Worker *w) {
    int n = w->batched;
    w->batched = 0;
    for (int i = 0; i < n; i++)
        __builtin_prefetch(&w->request_data[w->batch[i].request].tallies[w->batch[i].klass]);
    for (int i = 0; i < n; i++) {
        Pending *line = &w->batch[i];
        Request *request = &w->request_data[line->request];
        Tally *tally = &request->tallies[line->klass];
        if (tally->count++ == 0) {
            tally->first = tally->last = line->ts;
        } else {
            if (line->ts < tally->first) tally->first = line->ts;
            if (line->ts > tally->last) tally->last = line->ts;
        }
        /* Truncating, as DuckDB's // (the same days before 1970 too). */
        line->day_id = DAY_ID(request->key, line->ts / DAY_US);
        __builtin_prefetch(&w->days.slots[mix(line->day_id) & w->days.mask]);
    }
    for (int i = 0; i < n; i++) {
        Pending *line = &w->batch[i];
        if (add_day(w, line->day_id, line->klass == 0, line->klass == 1)) return -1;
    }
    return 0;
}

/* Counts one line whose shape and timestamp are known. */
static int count_line(Worker *w, const Shape *shape, int64_t ts) {
    w->lines++;
    if (shape->outcome == MISSING) {
        w->missing++; /* reason 3: a missing field */
        return 0;
    }
    if (shape->outcome == BAD_STATUS) {
        w->bad_status++; /* reason 7 */
        return 0;
    }
    w->good++;
    if (ts < w->shared->start_us || ts >= w->shared->end_us) return 0;
    w->in_window++;
    if (ts < w->file_first[w->file]) w->file_first[w->file] = ts;
    if (ts > w->file_last[w->file]) w->file_last[w->file] = ts;
    w->batch[w->batched++] = (Pending){shape->request, shape->klass, ts, 0};
    return w->batched == BATCH ? apply_batch(w) : 0;
}

/* Parses one line [p, end) in full: its shape, its timestamp (not for a missing field)
   and where the timestamp's text starts; 0, or -1 to give up on the whole plan. */
static int parse_line(Worker *w, const char *p, const char *end, Shape *shape, int64_t *ts_out,
                      const char **ts_text) {
    Shared *sh = w->shared;
    Value values[FIELD_COUNT] = {{0}};
    Name seen[MAX_MEMBERS];
    int members = 0;

    p = skip_blanks(p, end);
    if (p >= end || *p != '{') return -1;
    p = skip_blanks(p + 1, end);
    if (p < end && *p == '}') {
        p++;
    } else {
        for (;;) {
            if (p >= end || *p != '"') return -1;
            const char *name = p + 1;
            const char *close = string_end(name, end, ASCII_ONLY);
            if (!close) return -1;
            size_t length = (size_t)(close - name);
            uint64_t prefix = load_partial(name, length);
            if (members == MAX_MEMBERS) return -1;
            for (int i = 0; i < members; i++)
                if (seen[i].length == length && seen[i].prefix == prefix &&
                    (length <= 8 || same_bytes(seen[i].text + 8, name + 8, length - 8)))
                    return -1; /* DuckDB's reader refuses a duplicate key */
            seen[members++] = (Name){name, length, prefix, 0};
            int field = -1;
            for (int f = 0; f < FIELD_COUNT; f++) {
                int same = compare_name(name, length, prefix, &sh->fields[f]);
                if (same == 1) {
                    field = f;
                    break;
                }
                if (same == 2) return -1; /* a case variant: leave matching rules to DuckDB */
            }
            for (size_t s = 0; s < sh->stop_count; s++)
                if (compare_name(name, length, prefix, &sh->stops[s])) return -1;
            p = skip_blanks(close + 1, end);
            if (p >= end || *p != ':') return -1;
            p = skip_blanks(p + 1, end);
            if (p >= end) return -1;
            Value value = {p, 0, 4};
            char c = *p;
            if (field < 0) {
                if (!(p = skip_value(p, end, 1))) return -1;
            } else if (c == '"') {
                /* A path may hold UTF-8 (ids, names); the other fields read are ASCII. */
                const char *stop = string_end(p + 1, end, field == F_PATH ? UTF8 : ASCII_ONLY);
                if (!stop) return -1;
                value = (Value){p + 1, (size_t)(stop - p - 1), 1};
                p = stop + 1;
            } else if (c == '-' || is_digit(c)) {
                int plain;
                const char *stop = number_end(p, end, &plain);
                if (!stop) return -1;
                value = (Value){p, (size_t)(stop - p), plain ? 2 : 4};
                p = stop;
            } else if (end - p >= 4 && memcmp(p, "null", 4) == 0) {
                value.kind = 3;
                p += 4;
            } else {
                return -1; /* booleans, nested values, NaN...: DuckDB's business */
            }
            if (field >= 0) values[field] = value;
            p = skip_blanks(p, end);
            if (p < end && *p == ',') {
                p = skip_blanks(p + 1, end);
                continue;
            }
            if (p < end && *p == '}') {
                p++;
                break;
            }
            return -1;
        }
    }
    if (skip_blanks(p, end) != end) return -1; /* a second object or trailing text */

    *ts_text = values[F_TIMESTAMP].kind == 1 ? values[F_TIMESTAMP].text : NULL;
    for (int f = 0; f < FIELD_COUNT; f++) {
        int kind = values[f].kind;
        if (kind == 0 || kind == 3) {
            shape->outcome = MISSING;
            return 0;
        }
        /* Only a status may be a number (its text is then its digits); other kinds are
           read as text by DuckDB in ways not worth copying. */
        if (kind != 1 && !(f == F_STATUS && kind == 2)) return -1;
    }
    const Value *path = &values[F_PATH];
    if (path->length == 0 || path->text[0] != '/') return -1; /* URLs and bad paths */
    if (parse_timestamp(values[F_TIMESTAMP].text, values[F_TIMESTAMP].length, ts_out)) return -1;
    const Value *status = &values[F_STATUS];
    int code = -1;
    if (status->length == 3) {
        if (status->text[0] == '-') {
            code = -1; /* "-12": a number, never a status */
        } else if (digits(status->text, 3, &code)) {
            return -1; /* "1e2" and friends: let DuckDB's cast decide */
        }
    }
    if (code < 100 || code > 599) {
        shape->outcome = BAD_STATUS;
        return 0;
    }
    /* A good line needs a well-formed method and key id, or the plan is DuckDB's. */
    const Value *method = &values[F_METHOD];
    if (method->length < 1 || method->length > 20) return -1;
    char upper[24]; /* 20 letters, and slack for the word-wise hash of the last ones */
    for (size_t i = 0; i < method->length; i++) {
        char c = method->text[i];
        if (c >= 'a' && c <= 'z') c = (char)(c - 32);
        else if (c < 'A' || c > 'Z') return -1;
        upper[i] = c;
    }
    const Value *key = &values[F_KEY];
    if (key->length > 256) return -1;
    size_t k = 0;
    while (k < key->length && key->text[k] == ' ') k++;
    if (k == key->length) return -1;
    uint32_t klass = code == 401 || code == 403 ? 1 : code < 400 ? 0 : code < 500 ? 2 : 3;
    size_t plen = path->length;
    for (size_t i = 0; i < plen; i++) {
        if (path->text[i] == '?' || path->text[i] == '#') {
            plen = i; /* the query and fragment are cut (secrets travel there) */
            break;
        }
    }
    int64_t request = request_slot(w, key->text, key->length, upper, method->length, path->text,
                                   plen, request_hash(key->text, key->length, upper,
                                                      method->length, path->text, plen));
    if (request < 0) return -1;
    *shape = (Shape){GOOD, (uint32_t)request, klass};
    return 0;
}

/* The text of the timestamp's value, found without parsing the line: the first occurrence
   of its field name in quotes, a colon, a quote; NULL if there is none.  *close: the
   quote that ends it (within 40 bytes). */
static inline const char *timestamp_text(const Shared *sh, const char *p, const char *end,
                                         const char **close) {
    const char *at = memmem(p, (size_t)(end - p), sh->needle, sh->needle_length);
    if (!at) return NULL;
    const char *q = skip_blanks(at + sh->needle_length, end);
    if (q >= end || *q != ':') return NULL;
    q = skip_blanks(q + 1, end);
    if (q >= end || *q != '"') return NULL;
    q++;
    *close = memchr(q, '"', (size_t)(end - q) < 40 ? (size_t)(end - q) : 40);
    return *close ? q : NULL;
}

/* Aggregates one queued line; 0, or -1 to give up on the whole plan.

   Most lines of a log repeat an earlier line but for the timestamp (the same key calling
   the same route with the same status).  Such a line is the earlier line's shape at a
   new time: if everything before and after the timestamp's text is byte for byte a line
   parsed before, and the timestamp reads, the line parses the same way (a readable
   timestamp has no quote, escape or control byte to change the JSON around it), so only
   the timestamp is read.  Only lines whose first quoted timestamp field name is the
   object's own (checked by the full parse) are kept as shapes. */
static int scan_line(Worker *w, Line *line) {
    const char *p = line->p, *end = line->end;
    if (line->found >= 0) {
        w->shape_hits++;
        return count_line(w, &w->shape_data[line->found], line->ts);
    }
    int64_t ts;
    Shape shape;
    const char *parsed_ts_text;
    if (parse_line(w, p, end, &shape, &ts, &parsed_ts_text)) return -1;
    const char *ts_text = line->ts_text, *ts_close = line->ts_close;
    if (ts_text && parsed_ts_text == ts_text && !w->shapes_off && w->shapes.count < MAX_SHAPES) {
        size_t before = (size_t)(ts_text - p), after = (size_t)(end - ts_close);
        int64_t added = text_slot(&w->shapes, &w->arena, p, before, ts_close, after, line->hash);
        if (added < 0) return -1;
        if ((size_t)added >= w->shape_size) {
            size_t size = w->shape_size ? w->shape_size * 2 : 1024;
            Shape *grown = realloc(w->shape_data, size * sizeof(Shape));
            if (!grown) return -1;
            w->shape_data = grown;
            w->shape_size = size;
        }
        w->shape_data[added] = shape;
    }
    return count_line(w, &shape, ts);
}

/* Aggregates the queued lines.  The shapes outgrow the caches (a slot, an entry and its
   text are three misses a line), so each step first asks for the memory of every line
   and then uses it: the misses overlap instead of queueing. */
static int scan_queued(Worker *w) {
    int n = w->queued;
    w->queued = 0;
    TextTable *t = &w->shapes;
    for (int i = 0; i < n; i++) {
        Line *line = &w->queue[i];
        line->ts_text = NULL;
        line->found = -1;
        if (w->shapes_off) continue;
        const char *ts_text = timestamp_text(w->shared, line->p, line->end, &line->ts_close);
        if (ts_text &&
            parse_timestamp(ts_text, (size_t)(line->ts_close - ts_text), &line->ts) == 0) {
            line->ts_text = ts_text;
            line->hash = hash_bytes(line->ts_close, (size_t)(line->end - line->ts_close),
                                    hash_bytes(line->p, (size_t)(ts_text - line->p), 5));
            __builtin_prefetch(&t->slots[line->hash & t->mask]);
        }
    }
    for (int i = 0; i < n; i++) {
        Line *line = &w->queue[i];
        uint32_t e = line->ts_text ? t->slots[line->hash & t->mask] : 0;
        if (e) __builtin_prefetch(&t->items[e - 1]);
    }
    for (int i = 0; i < n; i++) {
        Line *line = &w->queue[i];
        uint32_t e = line->ts_text ? t->slots[line->hash & t->mask] : 0;
        if (e && t->items[e - 1].hash == line->hash) {
            const char *text = w->arena.data + t->items[e - 1].offset;
            __builtin_prefetch(text);
            __builtin_prefetch(text + 64);
        }
    }
    for (int i = 0; i < n; i++) {
        Line *line = &w->queue[i];
        if (line->ts_text && !w->shapes_off) {
            size_t before = (size_t)(line->ts_text - line->p);
            size_t after = (size_t)(line->end - line->ts_close);
            line->found = text_find(t, &w->arena, line->p, before, line->ts_close, after,
                                    line->hash);
            if (line->found < 0 && ++w->shape_misses == SHAPE_TRIAL &&
                w->shape_hits < SHAPE_TRIAL / 2)
                w->shapes_off = 1; /* mostly unique lines: not worth the lookups */
        }
        if (scan_line(w, line)) return -1;
    }
    return 0;
}

/* Queues the line [p, end); its text stays in the buffer until scan_queued runs. */
static inline int queue_line(Worker *w, const char *p, const char *end) {
    w->queue[w->queued++] = (Line){.p = p, .end = end};
    return w->queued == QUEUE ? scan_queued(w) : 0;
}

/* ------------------------------------------------------------------ one byte range */

/* Reads the lines starting in [start, end) of the worker's file, a block at a time. */
static void *scan_range(void *argument) {
    Worker *w = argument;
    Shared *sh = w->shared;
    char *buffer = w->buffer;
    int64_t position = w->start > 0 ? w->start - 1 : 0; /* the byte before: a line feed? */
    int skip_partial = w->start > 0;
    size_t carry = 0;
    for (unsigned blocks = 1;; blocks++) {
        if (atomic_load_explicit(&sh->give_up, memory_order_relaxed)) return NULL;
        if (w->caller && blocks % 16 == 0) {
            /* Every 64 MiB: run Python's signal handlers, so Ctrl-C stops a long scan. */
            PyEval_RestoreThread(*w->caller);
            int raised = PyErr_CheckSignals();
            *w->caller = PyEval_SaveThread();
            if (raised) {
                sh->interrupted = 1;
                atomic_store(&sh->give_up, 1);
                return NULL;
            }
        }
        ssize_t got;
        do {
            got = pread(w->descriptor, buffer + carry, BLOCK_BYTES, position);
        } while (got < 0 && errno == EINTR);
        if (got < 0) goto fail;
        int at_end = got == 0;
        int64_t base = position - (int64_t)carry; /* file offset of buffer[0] */
        position += got;
        size_t available = carry + (size_t)got;
        const char *p = buffer;
        const char *limit = buffer + available;
        if (skip_partial) {
            const char *feed = memchr(p, '\n', available);
            if (!feed) {
                if (at_end) goto finish;
                carry = 0; /* still inside the previous range's line */
                continue;
            }
            p = feed + 1;
            skip_partial = 0;
        }
        for (;;) {
            if (base + (p - buffer) >= w->end) goto finish; /* the next range's lines */
            const char *feed = memchr(p, '\n', (size_t)(limit - p));
            if (!feed) {
                if (at_end) {
                    if (p < limit && queue_line(w, p, limit)) goto fail; /* no final feed */
                    goto finish;
                }
                carry = (size_t)(limit - p);
                if (carry > MAX_LINE_BYTES) goto fail;
                /* The queued lines are in the buffer: aggregate them before it moves. */
                if (w->queued && scan_queued(w)) goto fail;
                memmove(buffer, p, carry);
                break;
            }
            if (feed == p || (size_t)(feed - p) > MAX_LINE_BYTES) goto fail; /* blank, long */
            if (queue_line(w, p, feed)) goto fail;
            p = feed + 1;
        }
    }
finish:
    if (w->queued && scan_queued(w)) goto fail;
    if (w->batched && apply_batch(w)) goto fail;
    return NULL;
fail:
    w->failed = 1;
    atomic_store(&sh->give_up, 1);
    return NULL;
}

/* ------------------------------------------------------------------ merging */

/* Each entry's index in `into`'s table, added there when new; NULL when out of memory. */
static uint32_t *merge_texts(Worker *into, TextTable *to, Worker *from, TextTable *table) {
    uint32_t *map = malloc((table->count + 1) * sizeof(uint32_t));
    if (!map) return NULL;
    for (size_t i = 0; i < table->count; i++) {
        TextEntry *x = &table->items[i];
        const char *text = from->arena.data + x->offset;
        int64_t index = text_slot(to, &into->arena, text, x->split, text + x->split,
                                  x->length - x->split, x->hash);
        if (index < 0 || index > MAX_GROUP_KEYS) {
            free(map);
            return NULL;
        }
        map[i] = (uint32_t)index;
    }
    return map;
}

/* Folds worker `from` into worker `into`; -1 when out of memory. */
static int merge(Worker *into, Worker *from) {
    int failed = -1;
    if (flush_requests(into) || flush_requests(from)) return -1;
    uint32_t *keys = merge_texts(into, &into->keys, from, &from->keys);
    uint32_t *routes = keys ? merge_texts(into, &into->routes, from, &from->routes) : NULL;
    if (!routes) goto done;
    for (size_t i = 0; i <= from->groups.mask; i++) {
        Counter *c = &from->groups.slots[i];
        if (!c->id) continue;
        uint64_t key = (c->id >> 34) - 1, route = (c->id >> 2) & 0xffffffffu, klass = c->id & 3;
        if (add_group(into, GROUP_ID(keys[key], routes[route], klass), c->a, c->b, c->c))
            goto done;
    }
    for (size_t i = 0; i <= from->days.mask; i++) {
        Counter *c = &from->days.slots[i];
        if (!c->id) continue;
        uint64_t key = (c->id >> 32) - 1;
        int64_t day = (int64_t)(c->id & 0xffffffffu) - (1LL << 31);
        if (add_day(into, DAY_ID(keys[key], day), c->a, c->b)) goto done;
    }
    into->lines += from->lines;
    into->missing += from->missing;
    into->bad_status += from->bad_status;
    into->good += from->good;
    into->in_window += from->in_window;
    for (size_t f = 0; f < into->shared->file_count; f++) {
        if (from->file_first[f] < into->file_first[f]) into->file_first[f] = from->file_first[f];
        if (from->file_last[f] > into->file_last[f]) into->file_last[f] = from->file_last[f];
    }
    failed = 0;
done:
    free(keys);
    free(routes);
    return failed;
}

/* ------------------------------------------------------------------ Python results */

static const Worker *sort_worker;
static const uint32_t *sort_rank;

static int compare_keys(const void *a, const void *b) {
    const TextEntry *x = &sort_worker->keys.items[*(const uint32_t *)a];
    const TextEntry *y = &sort_worker->keys.items[*(const uint32_t *)b];
    size_t n = x->length < y->length ? x->length : y->length;
    int c = memcmp(sort_worker->arena.data + x->offset, sort_worker->arena.data + y->offset, n);
    if (c) return c;
    return (x->length > y->length) - (x->length < y->length);
}

/* Day ids sort by the key's rank, then the day. */
static int compare_days(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    uint32_t rx = sort_rank[(x >> 32) - 1], ry = sort_rank[(y >> 32) - 1];
    if (rx != ry) return rx < ry ? -1 : 1;
    return ((x & 0xffffffffu) > (y & 0xffffffffu)) - ((x & 0xffffffffu) < (y & 0xffffffffu));
}

/* The texts of a table as str (UTF-8, checked by the scan); a route's path after its method. */
static PyObject *text_list(const Worker *w, const TextTable *table, int from_split) {
    PyObject *list = PyList_New((Py_ssize_t)table->count);
    if (!list) return NULL;
    for (size_t i = 0; i < table->count; i++) {
        const TextEntry *x = &table->items[i];
        size_t skip = from_split ? x->split : 0;
        PyObject *text = PyUnicode_DecodeUTF8(w->arena.data + x->offset + skip,
                                              (Py_ssize_t)(x->length - skip), NULL);
        if (!text) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, text);
    }
    return list;
}

static PyObject *build_result(Worker *w) {
    static const char *klass_names[] = {"success", "denied", "client_error", "server_error"};
    PyObject *result = NULL, *keys = NULL, *paths = NULL, *methods = NULL, *groups = NULL;
    PyObject *daily = NULL, *ranges = NULL;
    PyObject *klasses[4] = {NULL};
    uint32_t *order = NULL;
    uint64_t *day_ids = NULL;
    size_t key_count = w->keys.count;

    if (!(keys = text_list(w, &w->keys, 0)) || !(paths = text_list(w, &w->routes, 1)))
        goto done;
    methods = PyList_New((Py_ssize_t)w->routes.count);
    if (!methods) goto done;
    for (size_t i = 0; i < w->routes.count; i++) {
        const TextEntry *x = &w->routes.items[i];
        PyObject *text = PyUnicode_DecodeASCII(w->arena.data + x->offset, x->split, NULL);
        if (!text) goto done;
        PyUnicode_InternInPlace(&text); /* a handful of methods, shared by every row */
        PyList_SET_ITEM(methods, (Py_ssize_t)i, text);
    }
    for (int i = 0; i < 4; i++)
        if (!(klasses[i] = PyUnicode_InternFromString(klass_names[i]))) goto done;

    groups = PyList_New((Py_ssize_t)w->groups.used);
    if (!groups) goto done;
    Py_ssize_t n = 0;
    for (size_t i = 0; i <= w->groups.mask; i++) {
        Counter *c = &w->groups.slots[i];
        if (!c->id) continue;
        uint64_t key = (c->id >> 34) - 1, route = (c->id >> 2) & 0xffffffffu, klass = c->id & 3;
        PyObject *row = Py_BuildValue(
            "(OOOOLLLO)", PyList_GET_ITEM(keys, key), PyList_GET_ITEM(methods, route),
            PyList_GET_ITEM(paths, route), klasses[klass], (long long)c->a, (long long)c->b,
            (long long)c->c, Py_None);
        if (!row) goto done;
        PyList_SET_ITEM(groups, n++, row);
    }

    order = malloc((key_count + 1) * 2 * sizeof(uint32_t));
    day_ids = malloc((w->days.used + 1) * sizeof(uint64_t));
    if (!order || !day_ids) {
        PyErr_NoMemory();
        goto done;
    }
    for (size_t i = 0; i < key_count; i++) order[i] = (uint32_t)i;
    sort_worker = w; /* qsort has no context argument; the GIL is held */
    qsort(order, key_count, sizeof(uint32_t), compare_keys);
    uint32_t *rank = order + key_count;
    for (size_t i = 0; i < key_count; i++) rank[order[i]] = (uint32_t)i;
    sort_rank = rank;
    size_t day_count = 0;
    for (size_t i = 0; i <= w->days.mask; i++)
        if (w->days.slots[i].id) day_ids[day_count++] = w->days.slots[i].id;
    qsort(day_ids, day_count, sizeof(uint64_t), compare_days);
    daily = PyList_New((Py_ssize_t)day_count);
    if (!daily) goto done;
    for (size_t i = 0; i < day_count; i++) {
        int is_new;
        Counter *c = counter(&w->days, day_ids[i], &is_new); /* found: no insertion */
        uint64_t key = (day_ids[i] >> 32) - 1;
        int64_t day = (int64_t)(day_ids[i] & 0xffffffffu) - (1LL << 31);
        PyObject *row = Py_BuildValue("(OLLL)", PyList_GET_ITEM(keys, key), (long long)day,
                                      (long long)c->a, (long long)c->b);
        if (!row) goto done;
        PyList_SET_ITEM(daily, (Py_ssize_t)i, row);
    }

    ranges = PyList_New((Py_ssize_t)w->shared->file_count);
    if (!ranges) goto done;
    for (size_t f = 0; f < w->shared->file_count; f++) {
        PyObject *range;
        if (w->file_first[f] == INT64_MAX) {
            range = Py_NewRef(Py_None);
        } else {
            range = Py_BuildValue("(LL)", (long long)w->file_first[f], (long long)w->file_last[f]);
            if (!range) goto done;
        }
        PyList_SET_ITEM(ranges, (Py_ssize_t)f, range);
    }
    result = Py_BuildValue("(LLLLLOOO)", (long long)w->lines, (long long)w->missing,
                           (long long)w->bad_status, (long long)w->good,
                           (long long)w->in_window, groups, daily, ranges);
done:
    free(order);
    free(day_ids);
    for (int i = 0; i < 4; i++) Py_XDECREF(klasses[i]);
    Py_XDECREF(keys);
    Py_XDECREF(paths);
    Py_XDECREF(methods);
    Py_XDECREF(groups);
    Py_XDECREF(daily);
    Py_XDECREF(ranges);
    return result;
}

/* ------------------------------------------------------------------ scan() */

static int copy_names(PyObject *sequence, Name *names, size_t most, size_t *count) {
    Py_ssize_t n = PySequence_Fast_GET_SIZE(sequence);
    if ((size_t)n > most) return -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(sequence, i);
        char *text;
        Py_ssize_t length;
        if (PyBytes_AsStringAndSize(item, &text, &length)) return -1;
        names[i] = make_name(text, (size_t)length);
    }
    *count = (size_t)n;
    return 0;
}

static PyObject *scan(PyObject *self, PyObject *args) {
    PyObject *files_arg, *fields_arg, *stops_arg;
    long long start_us, end_us;
    int thread_count;
    if (!PyArg_ParseTuple(args, "OOOLLi", &files_arg, &fields_arg, &stops_arg, &start_us,
                          &end_us, &thread_count))
        return NULL;
    PyObject *files = PySequence_Fast(files_arg, "files must be a sequence");
    PyObject *fields = PySequence_Fast(fields_arg, "fields must be a sequence");
    PyObject *stops = PySequence_Fast(stops_arg, "stop_names must be a sequence");
    PyObject *result = NULL;
    Worker *workers = NULL;
    size_t worker_count = 0;
    Shared shared;
    memset(&shared, 0, sizeof(shared));
    if (!files || !fields || !stops) goto done;
    size_t field_count;
    if (copy_names(fields, shared.fields, FIELD_COUNT, &field_count) ||
        field_count != FIELD_COUNT ||
        copy_names(stops, shared.stops, MAX_STOP_NAMES, &shared.stop_count)) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "five fields, few stop names");
        goto done;
    }
    if (shared.fields[F_TIMESTAMP].length + 2 > sizeof(shared.needle)) {
        result = Py_NewRef(Py_None); /* an absurd field name: DuckDB's business */
        goto done;
    }
    shared.needle[0] = '"';
    memcpy(shared.needle + 1, shared.fields[F_TIMESTAMP].text, shared.fields[F_TIMESTAMP].length);
    shared.needle[shared.fields[F_TIMESTAMP].length + 1] = '"';
    shared.needle_length = shared.fields[F_TIMESTAMP].length + 2;
    shared.start_us = start_us;
    shared.end_us = end_us;
    shared.file_count = (size_t)PySequence_Fast_GET_SIZE(files);
    if (thread_count < 1) thread_count = 1;
    if (thread_count > MAX_THREADS) thread_count = MAX_THREADS;
    if (shared.file_count == 0) {
        result = Py_NewRef(Py_None);
        goto done;
    }

    worker_count = (size_t)thread_count;
    workers = calloc(worker_count, sizeof(Worker));
    if (!workers) {
        PyErr_NoMemory();
        goto done;
    }
    for (size_t i = 0; i < worker_count; i++) {
        if (worker_init(&workers[i], &shared)) {
            worker_count = i + 1;
            PyErr_NoMemory();
            goto done;
        }
    }

    int gave_up = 0;
    for (size_t f = 0; f < shared.file_count && !gave_up; f++) {
        const char *path = PyBytes_AsString(PySequence_Fast_GET_ITEM(files, (Py_ssize_t)f));
        if (!path) goto done;
        Py_BEGIN_ALLOW_THREADS
        int descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        struct stat info;
        unsigned char head[3] = {0};
        if (descriptor < 0 || fstat(descriptor, &info) || !S_ISREG(info.st_mode) ||
            info.st_size == 0) {
            gave_up = 1; /* unreadable, empty or not a file: the checked path says so */
        } else if (pread(descriptor, head, 3, 0) < 2 || (head[0] == 0x1f && head[1] == 0x8b) ||
                   (head[0] == 0xef && head[1] == 0xbb && head[2] == 0xbf)) {
            gave_up = 1; /* compressed, or a byte-order mark */
        } else {
            int64_t size = info.st_size;
            size_t parts = worker_count;
            if (size < (int64_t)(BLOCK_BYTES)) parts = 1; /* not worth a thread */
            pthread_t threads[MAX_THREADS];
            int started[MAX_THREADS] = {0};
            for (size_t t = 0; t < parts; t++) {
                Worker *w = &workers[t];
                w->file = f;
                w->descriptor = descriptor;
                w->start = size * (int64_t)t / (int64_t)parts;
                w->end = size * (int64_t)(t + 1) / (int64_t)parts;
                /* The last part runs on this thread; no thread for a part runs here too. */
                if (t + 1 < parts && pthread_create(&threads[t], NULL, scan_range, w) == 0) {
                    started[t] = 1;
                } else {
                    w->caller = &_save; /* Py_BEGIN_ALLOW_THREADS's saved thread state */
                    scan_range(w);
                    w->caller = NULL;
                }
            }
            for (size_t t = 0; t < parts; t++)
                if (started[t]) pthread_join(threads[t], NULL);
            for (size_t t = 0; t < parts; t++) gave_up |= workers[t].failed;
            if (atomic_load(&shared.give_up)) gave_up = 1;
        }
        if (descriptor >= 0) close(descriptor);
        Py_END_ALLOW_THREADS
    }
    if (shared.interrupted) goto done; /* KeyboardInterrupt (or what a handler raised) */
    if (gave_up) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    int merged = 0;
    Py_BEGIN_ALLOW_THREADS
    for (size_t t = 1; t < worker_count && !merged; t++) merged = merge(&workers[0], &workers[t]);
    if (!merged) merged = flush_requests(&workers[0]); /* one worker: nothing merged */
    Py_END_ALLOW_THREADS
    if (merged) {
        PyErr_NoMemory();
        goto done;
    }
    if (workers[0].lines == 0) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    result = build_result(&workers[0]);
done:
    if (workers) {
        for (size_t i = 0; i < worker_count; i++) worker_free(&workers[i]);
        free(workers);
    }
    Py_XDECREF(files);
    Py_XDECREF(fields);
    Py_XDECREF(stops);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(files, fields, stop_names, start_us, end_us, threads): the aggregation of plain "
     "JSON-lines files, or None when a line is outside the plain shape."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_jsonl_scan",
    "keyscope's scanner for plain JSON-lines usage logs (see scan).", -1, methods,
};

PyMODINIT_FUNC PyInit__jsonl_scan(void) { return PyModule_Create(&module); }
