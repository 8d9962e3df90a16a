#!/bin/sh
# kestrel-run.sh: runs busybox's own test suite inside Kestrel (staged as
# /bb/testsuite/kestrel-run.sh by tools/busybox-suite, started by
# bootimage/tests/suite.manifest).
#
#   kestrel-run.sh [APPLET...]     testsuite/runtest for those applets (all
#                                  without any), then SUITE DONE pass= fail= skip=
#   kestrel-run.sh --except A+B    all of them but A and B (too slow here)
#   kestrel-run.sh --ash [DIR...]  shell/ash_test/run-all (ash-* directories),
#                                  then ASH DONE ok= fail=
#   kestrel-run.sh --script        testsuite/script.sh (tools/busybox-suite
#                                  --script FILE), sh -x in /tmp
#
# The environment is the one Debian's build runs the suite in (debian/rules
# TESTSUITE_ENV), in the layout of its build tree: the busybox under
# test is /bb/busybox (a link to /linux/busybox) with Debian's
# configuration of busybox-static as /bb/.config.  Every result line goes to the console; the counts are
# taken from a copy in /tmp.
export PATH=/bin HOME=/root SHELL=/bin/sh ECHO=/bin/echo
export SKIP_KNOWN_BUGS=y SKIP_INTERNET_TESTS=y LANG=C.UTF-8 LC_ALL=C.UTF-8
export bindir=/bb tsdir=/bb/testsuite
out=/tmp/kestrel-run.out

if [ "$1" = --script ]; then
    cd /tmp || exit 1
    echo "SCRIPT START"
    sh -x /bb/testsuite/script.sh 2>&1
    echo "SCRIPT DONE"
    exit 0
fi
if [ "$1" = --ash ]; then
    shift
    cd /bb/shell/ash_test || exit 1
    echo "ASH START"
    ./run-all "$@" 2>&1 | tee "$out"
    ok=$(grep -c ': ok$' "$out")
    fail=$(grep -c ': fail$' "$out")
    echo "ASH DONE ok=$ok fail=$fail"
    exit 0
fi

cd /bb/testsuite || exit 1
# --except A+B: every applet runtest would test (busybox, then the
# applets busybox lists, in its order) but those; each one left out is
# reported as SKIPPED.
if [ "$1" = --except ]; then
    except="+$2+"
    shift 2
    set -- $( { echo busybox; "$bindir/busybox" --list; } | while read a; do
        case "$except" in *"+$a+"*) ;; *) echo "$a" ;; esac; done)
    echo "SUITE START all applets but $except"
    for a in $(echo "$except" | tr + ' '); do
        echo "SUITE APPLET $a"
        echo "SKIPPED: $a (left out of this run: tools/busybox-suite --applets $a runs it)"
    done | tee "$out.except"
else
    echo "SUITE START ${*:-all applets}"
    : > "$out.except"
fi
./runtest "$@" 2>&1 | tee "$out"
cat "$out.except" >> "$out"
pass=$(grep -c '^PASS:' "$out")
fail=$(grep -c '^FAIL:' "$out")
skip=$(grep -c -e '^SKIPPED:' -e '^UNTESTED:' "$out")
echo "SUITE DONE pass=$pass fail=$fail skip=$skip"
exit 0
