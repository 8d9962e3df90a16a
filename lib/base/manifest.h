/*
 * manifest: the boot manifest parser.  The supervisor reads the boot
 * image's "manifest" file to know which services to start, with which
 * resources and names, and how to restart them.
 *
 * Grammar (bytes; one statement per line):
 *
 *   file     = { line } ;
 *   line     = [ ws ] [ comment | service ] [ ws ] EOL ;
 *              EOL is LF, or CR LF; the last line may have no EOL
 *   comment  = "#" { any byte but LF } ;      only at the start of a line
 *   service  = "service" ws name ws program { ws field } ;
 *   ws       = ( " " | TAB ) { " " | TAB } ;
 *   name     = lower { lower | digit | "-" | "_" } ;       1..31 bytes
 *   program  = pchar { pchar } ;        1..63 bytes, relative (no leading
 *              "/"), pchar = letter | digit | "." | "_" | "-" | "/"
 *   field    = key "=" value ;
 *   value    = bare | quoted ;
 *   bare     = { any printable byte but space, TAB and '"' } ;
 *   quoted   = '"' { any printable byte or TAB but '"' and "\" | "\" ( '"' | "\" ) } '"' ;
 *
 *   key        value                          default
 *   prio       number 1..255                  100
 *   restart    never | always | on-failure    never
 *   backoff    number 1..3600000 (ms, first restart delay, doubling)   100
 *   limit      number 0..10000 (restarts, 0 = no limit)                0
 *   heartbeat  number 0 or 10..600000 (ms, 0 = not watched)            0
 *   stall      number 0 or 10..600000 (ms, 0 = not watched): a request   0
 *              the service holds (received, not answered) this long is
 *              a hang, as the kernel says (K_INFO_SERVING), whatever its
 *              heartbeats say; needs heartbeat= (checked with them)
 *   args       string, up to 127 bytes (use quotes for spaces)        ""
 *   irq        list of numbers 0..255, no duplicates
 *   ioport     list of ranges 0..0xffff
 *   mmio       list of ranges 0..2^64-1
 *   pci        list of ranges 0..0xffff: PCI functions of segment 0, as
 *              bus << 8 | device << 3 | function (the PCI server's grant)
 *   connect    list of service names it may connect to (must exist;
 *              "supervisor" names the supervisor's control interface)
 *   names      list of absolute prefixes it serves (normalised, up to 63
 *              bytes each): the supervisor publishes them on its channel
 *              at each start; it may attach them and below itself
 *   view       list of absolute prefixes: the part of the name space it
 *              sees (resolves in, and passes on to the processes it
 *              spawns); without it, all of it
 *   bootfs     0 or 1: the boot image, read-only ("bootfs" handle), for   0
 *              a service that serves it as files or starts programs
 *              from it itself (process_create needs it)
 *   debug      0 or 1: its memory may be read and written (code too)     0
 *              through the supervisor's debug message, by services
 *              granted connect=supervisor (fault injection, debuggers)
 *   match      list of PCI devices the service drives (a driver line):
 *              match-item = hex4 ":" hex4          vendor:device
 *                         | "class:" hex2 [ hex2 ]  base class [subclass]
 *              hex4, hex2 = exactly 4 or 2 hex digits (either case, no
 *              "0x"); vendor and device ffff are no device, class ff is
 *              none.  Needs connect=pci (its devices come from the PCI
 *              server) and makes the line a template: see "Driver lines".
 *   instances  number 1..8: at most this many instances (match= only)     4
 *
 * Driver lines: a line with match= NAME stands for services NAME0 ..
 * NAME<instances-1> (each a service of its own: its own channel, badges,
 * restarts, names), in that order at the line's place.  The base NAME
 * may then be 30 bytes at most, and an instance name must not be another
 * service's.  Each names= prefix of such a line must hold exactly one
 * "#", which becomes the instance number in each instance ("/dev/vblk#":
 * /dev/vblk0, /dev/vblk1, ...); "#" in names= elsewhere is an error.  The
 * instances are not started at boot: the PCI server binds each function
 * that matches (header type 0, in its enumeration order) to the next free
 * instance of the first line that matches it, and reports the bindings to
 * the supervisor, which starts only instances with a device (decision
 * 0026).  Instance K of a line has instance = K and the line's name in
 * group; other services have group "" and instance 0.
 *
 *   number = decimal | "0x" hex ;   range = number [ "-" number ], with
 *   start <= end (a single number is a one-element range); ranges of one
 *   key may not overlap.  A list is items separated by "," (no spaces),
 *   at most MANIFEST_LIST_MAX items.  Each key at most once per line.
 *
 * Errors: a malformed line is skipped with one error record (its line, the
 * column where the problem starts, the key if any, a message) and parsing
 * goes on with the next line, so one bad service does not stop the rest of
 * the system from booting.  Reported: lines over MANIFEST_LINE_MAX, NUL and
 * control bytes, unknown statements and keys, a missing program, bad names,
 * numbers out of range, reversed or overlapping ranges, overlong values,
 * too many list items, duplicate keys, duplicate service names, more than
 * MANIFEST_SERVICES_MAX services, and (after the whole file is read)
 * connect= naming a service that does not exist; that last one keeps the
 * service but drops nothing else.  A bad match= value (not vendor:device
 * or class:..., an ffff or ff that can match nothing, a duplicate), match=
 * without connect=pci, instances= without match=, and a names= prefix of
 * a driver line without exactly one "#" (or with one elsewhere) skip the
 * line like any other error.  At most MANIFEST_ERRORS_MAX records are
 * kept; the rest are counted in errors_dropped.
 *
 * Pure code: no allocation, no system calls; the text is (pointer, length)
 * and may contain anything.
 */
#ifndef KESTREL_BASE_MANIFEST_H
#define KESTREL_BASE_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#define MANIFEST_LINE_MAX     1024
#define MANIFEST_SERVICES_MAX 32
#define MANIFEST_ERRORS_MAX   32
#define MANIFEST_NAME_MAX     31
#define MANIFEST_PROGRAM_MAX  63
#define MANIFEST_ARGS_MAX     127
#define MANIFEST_PREFIX_MAX   63
#define MANIFEST_LIST_MAX     8
#define MANIFEST_PRIO_DEFAULT 100
#define MANIFEST_BACKOFF_DEFAULT 100
#define MANIFEST_INSTANCES_MAX 8
#define MANIFEST_INSTANCES_DEFAULT 4

enum manifest_restart {
    MANIFEST_RESTART_NEVER = 0,
    MANIFEST_RESTART_ALWAYS,
    MANIFEST_RESTART_ON_FAILURE,
};

struct manifest_range {
    uint64_t start, end;         /* inclusive */
};

/* One match= item: a vendor:device pair, or a class (subclass 0xff: any). */
enum manifest_match_kind { MANIFEST_MATCH_ID = 1, MANIFEST_MATCH_CLASS };

struct manifest_match {
    uint8_t kind;                /* enum manifest_match_kind */
    uint8_t class, subclass;     /* MANIFEST_MATCH_CLASS; subclass 0xff: any */
    uint16_t vendor, device;     /* MANIFEST_MATCH_ID */
};

struct manifest_service {
    unsigned line;
    char name[MANIFEST_NAME_MAX + 1];
    char program[MANIFEST_PROGRAM_MAX + 1];
    char args[MANIFEST_ARGS_MAX + 1];
    uint8_t prio;
    uint8_t restart;             /* enum manifest_restart */
    uint32_t backoff_ms;
    uint32_t limit;
    uint32_t heartbeat_ms;
    uint32_t stall_ms;           /* a request held this long: hung (0: not watched) */
    uint8_t bootfs;              /* 1: granted the boot image (read-only) */
    uint8_t debug;               /* 1: the supervisor may hand out a handle that writes its memory */
    uint8_t nirq, nioport, nmmio, nconnect, nnames, nview, npci;
    uint8_t irq[MANIFEST_LIST_MAX];
    struct manifest_range ioport[MANIFEST_LIST_MAX];
    struct manifest_range mmio[MANIFEST_LIST_MAX];
    struct manifest_range pci[MANIFEST_LIST_MAX];   /* PCI functions, K_PCI_FN numbers */
    char connect[MANIFEST_LIST_MAX][MANIFEST_NAME_MAX + 1];
    char names[MANIFEST_LIST_MAX][MANIFEST_PREFIX_MAX + 1];
    char view[MANIFEST_LIST_MAX][MANIFEST_PREFIX_MAX + 1];   /* none: all */
    uint8_t nmatch;              /* a driver instance: its line's match= */
    uint8_t instance;            /* which instance of its line (0..) */
    uint8_t instances;           /* how many its line has */
    struct manifest_match match[MANIFEST_LIST_MAX];
    char group[MANIFEST_NAME_MAX + 1];   /* its line's name; "" if no match= */
};

struct manifest_error {
    unsigned line;               /* 1-based */
    unsigned column;             /* 1-based byte column, 0 if whole line */
    char key[12];                /* the field's key, "" if none */
    const char *message;         /* static text */
};

struct manifest {
    unsigned nservices;
    unsigned nerrors;            /* records in errors[] */
    unsigned errors_dropped;     /* errors beyond MANIFEST_ERRORS_MAX */
    unsigned lines;              /* lines read */
    struct manifest_service services[MANIFEST_SERVICES_MAX];
    struct manifest_error errors[MANIFEST_ERRORS_MAX];
};

/* Parses TEXT[0..LEN) into M (fully overwritten).  Returns the number of
 * errors (nerrors + errors_dropped); the services parsed are usable
 * whatever it returns. */
unsigned manifest_parse(const char *text, size_t len, struct manifest *m);

/* Writes "manifest:LINE: message" (with "KEY: " before the message when
 * the error concerns a field) into BUF, NUL-terminated and cut to SIZE.
 * Returns the length the whole text has, like snprintf. */
size_t manifest_format_error(const struct manifest_error *e, char *buf,
                             size_t size);

/* Whether function (VENDOR, DEVICE, CLASS, SUBCLASS) matches one of S's
 * match= items. */
int manifest_matches(const struct manifest_service *s, uint16_t vendor, uint16_t device,
                     uint8_t class, uint8_t subclass);

/* The service called NAME[0..LEN), or NULL. */
const struct manifest_service *manifest_find(const struct manifest *m,
                                             const char *name, size_t len);

#endif
