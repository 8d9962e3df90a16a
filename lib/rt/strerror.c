/*
 * strerror: k_strerror, the text of each code in abi/kestrel/errors.h,
 * generated from its X-macro list.
 */
#include "rt/rt.h"

const char *k_strerror(long err)
{
    if (err < 0)
        err = -err;
    switch (err) {
    case 0:
        return "success";
#define RT_ERROR_CASE(num, name, text) case num: return text;
    KESTREL_ERRORS(RT_ERROR_CASE)
#undef RT_ERROR_CASE
    default:
        return "unknown error";
    }
}
