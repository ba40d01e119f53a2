/* Error numbers for Keel's init paths: functions return 0 or -Exxx. */
#ifndef KEEL_ARCH_ERRNO_H
#define KEEL_ARCH_ERRNO_H

#define ENOENT  2
#define EIO     5
#define E2BIG   7
#define ENOEXEC 8
#define EAGAIN  11
#define ENOMEM  12
#define EBUSY   16
#define EEXIST  17
#define EINVAL  22
#define ENOSPC  28
#define ERANGE  34
#define ENOSYS  38
#define ENOTSUP 95

#endif
