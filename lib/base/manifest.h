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
 * service but drops nothing else.  At most MANIFEST_ERRORS_MAX records are
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

enum manifest_restart {
    MANIFEST_RESTART_NEVER = 0,
    MANIFEST_RESTART_ALWAYS,
    MANIFEST_RESTART_ON_FAILURE,
};

struct manifest_range {
    uint64_t start, end;         /* inclusive */
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

/* The service called NAME[0..LEN), or NULL. */
const struct manifest_service *manifest_find(const struct manifest *m,
                                             const char *name, size_t len);

#endif
