/*
 * The front of the self-contained release file: a Python interpreter that needs nothing from
 * the host but the C library.
 *
 * The release file is this program, then the runtime's libpython (stored as is, at a page
 * boundary), then a zip archive: the standard library under stdlib/, and the plugin's zipapp
 * members (__main__.py, payload.zip) at the top. tools/release.py writes where libpython lies
 * into `locator` below after compiling this file.
 *
 * Nothing of the runtime is unpacked to disk. libpython is copied from this very file (the
 * one Vault pinned by sha256) into a sealed memory file and loaded from there; the standard
 * library is imported from the archive. Only the plugin's own dependencies are unpacked, by
 * __main__.py, which checks the copy on every start (tools/zipapp_bootstrap.py).
 *
 * The interpreter is configured as `python -I -S`: nothing from the environment (PYTHON*),
 * the user's site directory or any site-packages on the host reaches it. sys.argv is this
 * process's argv unchanged, sys.executable this file.
 */
#define _GNU_SOURCE
#include <Python.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Any glibc from 2.17 on (what the runtime needs) can run this program. Linked against a newer
   one, a program binds to the newest versions of what it calls; these bind to the first ones,
   which newer glibcs keep: dlopen and friends moved from libdl into libc in 2.34 (-ldl keeps
   libdl needed for older ones), and the start-up routine was versioned anew in 2.34, so the
   program brings its own _start (below, built with -nostartfiles). */
__asm__(".symver dlopen,dlopen@GLIBC_2.2.5");
__asm__(".symver dlsym,dlsym@GLIBC_2.2.5");
__asm__(".symver dlerror,dlerror@GLIBC_2.2.5");
__asm__(".symver __libc_start_main,__libc_start_main@GLIBC_2.2.5");

int main(int argc, char **argv);
extern int __libc_start_main(int (*)(int, char **), int, char **, void (*)(void), void (*)(void),
                             void (*)(void), void *);

/* The x86-64 System V entry: argc, argv and the environment on the stack, the dynamic
   linker's finaliser in rdx. As glibc's own crt1 does, minus the init/fini it no longer uses. */
__asm__(".text\n"
        ".globl _start\n"
        ".type _start,@function\n"
        "_start:\n"
        "  xor %ebp, %ebp\n"
        "  mov %rdx, %r9\n"       /* rtld_fini */
        "  pop %rsi\n"            /* argc */
        "  mov %rsp, %rdx\n"      /* argv */
        "  and $-16, %rsp\n"
        "  push %rax\n"
        "  push %rsp\n"           /* stack_end, the seventh argument */
        "  xor %r8d, %r8d\n"      /* fini */
        "  xor %ecx, %ecx\n"      /* init */
        "  lea main(%rip), %rdi\n"
        "  call *__libc_start_main@GOTPCREL(%rip)\n"
        "  hlt\n");

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#define MFD_ALLOW_SEALING 0x0002U
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U /* Linux 6.3: a memory file that may be mapped executable */
#endif
#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#define F_SEAL_SEAL 0x0001
#define F_SEAL_SHRINK 0x0002
#define F_SEAL_GROW 0x0004
#define F_SEAL_WRITE 0x0008
#endif

#define LOCATOR_MAGIC "tc-release-lib:1"

/* Filled in by tools/release.py: the offset and length of libpython in this file. Read
   through a volatile pointer so the compiler cannot fold the placeholder zeros. */
struct locator {
    char magic[16];
    uint64_t offset;
    uint64_t length;
    uint32_t python_hex; /* PY_VERSION_HEX of the runtime, major and minor checked at start */
};
__attribute__((used)) static struct locator locator = {LOCATOR_MAGIC, 0, 0, 0};

static const char *program = "vault-plugin";

static void die(const char *what, const char *detail) {
    fprintf(stderr, "%s: %s%s%s\n", program, what, detail ? ": " : "", detail ? detail : "");
    exit(70); /* EX_SOFTWARE */
}

/* A sealed memory file holding `length` bytes of `source` from `offset`. */
static int memory_copy(int source, off_t offset, uint64_t length) {
    unsigned int flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
    int fd = (int)syscall(SYS_memfd_create, "libpython", flags | MFD_EXEC);
    if (fd < 0 && errno == EINVAL) /* a kernel before 6.3 does not know MFD_EXEC */
        fd = (int)syscall(SYS_memfd_create, "libpython", flags);
    if (fd < 0)
        die("cannot create a memory file for the runtime (memfd_create)", strerror(errno));
    uint64_t left = length;
    while (left > 0) {
        size_t chunk = left > (1U << 30) ? (1U << 30) : (size_t)left;
        ssize_t sent = sendfile(fd, source, &offset, chunk);
        if (sent < 0 && errno == EINTR)
            continue;
        if (sent <= 0)
            die("cannot copy the runtime into memory", sent < 0 ? strerror(errno) : "short file");
        left -= (uint64_t)sent;
    }
    /* fcntl through syscall(): glibc's fcntl wrapper is versioned 2.28 under 64-bit offsets. */
    if (syscall(SYS_fcntl, fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
        die("cannot seal the runtime's memory file", strerror(errno));
    return fd;
}

static void *need(void *library, const char *name) {
    void *symbol = dlsym(library, name);
    if (symbol == NULL)
        die("the runtime lacks a function", name);
    return symbol;
}

#define CHECK(call)                                                                        \
    do {                                                                                   \
        PyStatus status_ = (call);                                                         \
        if (PyStatus_Exception_(status_))                                                  \
            ExitStatus_(status_);                                                          \
    } while (0)

static int (*PyStatus_Exception_)(PyStatus);
static void (*ExitStatus_)(PyStatus);

int main(int argc, char **argv) {
    if (argc > 0 && argv[0] != NULL && argv[0][0] != '\0') {
        const char *slash = strrchr(argv[0], '/');
        program = slash ? slash + 1 : argv[0];
    }
    volatile struct locator *where = &locator;
    if (where->offset == 0 || where->length == 0)
        die("this launcher was built but never packed", "run tools/release.py");

    char self[PATH_MAX];
    ssize_t size = readlink("/proc/self/exe", self, sizeof self - 1);
    if (size <= 0)
        die("cannot find this program's own file (is /proc mounted?)", strerror(errno));
    self[size] = '\0';

    int file = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (file < 0)
        die("cannot read this program's own file", strerror(errno));
    int memory = memory_copy(file, (off_t)where->offset, where->length);
    close(file);

    char library_path[64];
    snprintf(library_path, sizeof library_path, "/proc/self/fd/%d", memory);
    void *python = dlopen(library_path, RTLD_LAZY | RTLD_GLOBAL);
    if (python == NULL)
        die("cannot load the runtime", dlerror());
    close(memory);

    const unsigned long *version = need(python, "Py_Version");
    if ((*version >> 16) != (where->python_hex >> 16) || (PY_VERSION_HEX >> 16) != (*version >> 16))
        die("the runtime is not the Python version this launcher was built for", NULL);

    void (*init_isolated)(PyConfig *) = need(python, "PyConfig_InitIsolatedConfig");
    PyStatus (*set_string)(PyConfig *, wchar_t **, const char *) =
        need(python, "PyConfig_SetBytesString");
    PyStatus (*set_argv)(PyConfig *, Py_ssize_t, char *const *) =
        need(python, "PyConfig_SetBytesArgv");
    PyStatus (*append)(PyWideStringList *, const wchar_t *) =
        need(python, "PyWideStringList_Append");
    wchar_t *(*decode)(const char *, size_t *) = need(python, "Py_DecodeLocale");
    PyStatus (*initialize)(const PyConfig *) = need(python, "Py_InitializeFromConfig");
    void (*clear)(PyConfig *) = need(python, "PyConfig_Clear");
    int (*run_main)(void) = need(python, "Py_RunMain");
    PyStatus_Exception_ = need(python, "PyStatus_Exception");
    ExitStatus_ = need(python, "Py_ExitStatusException");

    PyConfig config;
    init_isolated(&config); /* -I: no PYTHON* variables, no user site, no cwd on the path */
    config.site_import = 0; /* -S: no site-packages of any installed Python */
    config.write_bytecode = 0;
    CHECK(set_argv(&config, argc, argv));
    CHECK(set_string(&config, &config.program_name, self));
    CHECK(set_string(&config, &config.executable, self));
    CHECK(set_string(&config, &config.base_executable, self));
    CHECK(set_string(&config, &config.run_filename, self));
    /* The prefixes only name where the runtime came from; nothing is looked up under them. */
    CHECK(set_string(&config, &config.prefix, self));
    CHECK(set_string(&config, &config.exec_prefix, self));
    CHECK(set_string(&config, &config.base_prefix, self));
    CHECK(set_string(&config, &config.base_exec_prefix, self));

    char stdlib[PATH_MAX + 16];
    snprintf(stdlib, sizeof stdlib, "%s/stdlib", self);
    wchar_t *stdlib_wide = decode(stdlib, NULL);
    if (stdlib_wide == NULL)
        die("cannot decode this program's path", self);
    config.module_search_paths_set = 1;
    CHECK(append(&config.module_search_paths, stdlib_wide));

    CHECK(initialize(&config));
    clear(&config);
    return run_main();
}
