/* Keel's log. Every line is prefixed with the CPU it comes from:
 *
 *   [cpu2] keel: cpu 2: vmxon ok
 *
 * Lines from different CPUs never interleave within a line. Levels filter
 * what is printed (loglevel= on Keel's command line, default LOG_INFO). */
#ifndef KEEL_DRIVERS_PRINTK_H
#define KEEL_DRIVERS_PRINTK_H

#include <stdarg.h>
#include "arch/compiler.h"

enum log_level {
	LOG_ERR = 0,
	LOG_WARN = 1,
	LOG_INFO = 2,
	LOG_DEBUG = 3,
};

extern int log_level_max;
extern bool console_enabled;      /* console=none turns it off */

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __printf(3, 4);
void printk(int level, const char *fmt, ...) __printf(2, 3);
/* Writes raw text to the console, taking the console lock (no prefix). */
void console_write(const char *s, size_t n);
/* Holds the console lock across several console_write() calls, so that
 * no other CPU's text comes between them (recursive on one CPU). */
void console_lock_take(void);
void console_lock_drop(void);

#define pr_err(...)   printk(LOG_ERR, __VA_ARGS__)
#define pr_warn(...)  printk(LOG_WARN, __VA_ARGS__)
#define pr_info(...)  printk(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) printk(LOG_DEBUG, __VA_ARGS__)

#endif
