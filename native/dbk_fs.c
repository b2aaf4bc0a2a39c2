// The few calls Node does not offer, or offers at a cost: file system calls for backup and restore
// to keep what the file system holds (see src/tree/native-fs.ts, which wraps and documents them),
// the chunker's loop and in-place encryption:
//   futimens/lutimens  modification time to the nanosecond (Node passes a double of seconds)
//   giveOwner          fchown where fstat says the owner differs (no Stats object made in Node)
//   lstat, readStart, closeFile  a backup's walk and reads, a file at a time: fewer and cheaper calls than Node's
//   gearScan           the chunker's hot loop
//   aesGcm             AES-256-GCM over the data itself, through the OpenSSL Node carries (Node's
//                      Cipher gives a new buffer, zero-filled, for every call)
//   sha256Ranges       the SHA-256 of each of many ranges of one buffer, in one call (a chunk's
//                      small files: a call and a string each cost more than the hash)
//   mknod              fifos and device nodes
//   l/f list, get, set extended attributes (POSIX ACLs are extended attributes too)
//   user and group names of ids and back, through the C library's account sources (NSS)
// Paths come as strings, or as Buffers when they are not UTF-8 (names are bytes); errors are thrown as Error objects with `code` set to
// the errno name (ENOTSUP, ENOENT...), as node:fs does.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <limits.h>
#include <node_api.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

#define MAX_ARGS 4

static const char *errno_code(int e) {
  switch (e) {
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENOTSUP: return "ENOTSUP";
    case ENODATA: return "ENODATA";
    case ERANGE: return "ERANGE";
    case E2BIG: return "E2BIG";
    case EEXIST: return "EEXIST";
    case ENOSPC: return "ENOSPC";
    case EDQUOT: return "EDQUOT";
    case EBADF: return "EBADF";
    case EINVAL: return "EINVAL";
    case ENOTDIR: return "ENOTDIR";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ELOOP: return "ELOOP";
    case EROFS: return "EROFS";
    case EIO: return "EIO";
    default: return "EUNKNOWN";
  }
}

static napi_value throw_errno(napi_env env, const char *syscall) {
  int e = errno;
  char message[256];
  snprintf(message, sizeof message, "%s: %s, %s", errno_code(e), strerror(e), syscall);
  napi_throw_error(env, errno_code(e), message);
  return NULL;
}

static int args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, NULL, "missing arguments");
    return 0;
  }
  return 1;
}

// A path or name argument, a Buffer (bytes that need not be UTF-8) or a string, as a
// NUL-terminated string (malloc'd; the caller frees); NULL after throwing.
static char *cstring(napi_env env, napi_value v) {
  napi_valuetype type;
  napi_typeof(env, v, &type);
  if (type == napi_string) {
    size_t length;
    napi_get_value_string_utf8(env, v, NULL, 0, &length);
    char *s = malloc(length + 1);
    if (s == NULL) {
      napi_throw_error(env, NULL, "out of memory");
      return NULL;
    }
    napi_get_value_string_utf8(env, v, s, length + 1, &length);
    if (strlen(s) != length) {
      free(s);
      napi_throw_type_error(env, NULL, "a path or name holds a NUL byte");
      return NULL;
    }
    return s;
  }
  void *data;
  size_t length;
  if (napi_get_buffer_info(env, v, &data, &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "a path or name must be a Buffer or a string");
    return NULL;
  }
  if (memchr(data, 0, length) != NULL) {
    napi_throw_type_error(env, NULL, "a path or name holds a NUL byte");
    return NULL;
  }
  char *s = malloc(length + 1);
  if (s == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  memcpy(s, data, length);
  s[length] = 0;
  return s;
}

static int number(napi_env env, napi_value v, double *out) {
  if (napi_get_value_double(env, v, out) != napi_ok) {
    napi_throw_type_error(env, NULL, "a number was expected");
    return 0;
  }
  return 1;
}

static napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

// atime and mtime both set to (seconds, nanoseconds), as restore has always set them
static int read_times(napi_env env, napi_value *argv, struct timespec times[2]) {
  double s, ns;
  if (!number(env, argv[0], &s) || !number(env, argv[1], &ns)) return 0;
  times[0].tv_sec = times[1].tv_sec = (time_t)s;
  times[0].tv_nsec = times[1].tv_nsec = (long)ns;
  return 1;
}

// futimens(fd, seconds, nanoseconds)
static napi_value Futimens(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  double fd;
  struct timespec times[2];
  if (!args(env, info, 3, argv) || !number(env, argv[0], &fd) || !read_times(env, argv + 1, times)) return NULL;
  if (futimens((int)fd, times) != 0) return throw_errno(env, "futimens");
  return undefined(env);
}

// giveOwner(fd, uid, gid): a chown only where the file's owner or group differs from these
static napi_value GiveOwner(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  double fd, uid, gid;
  struct stat st;
  if (!args(env, info, 3, argv) || !number(env, argv[0], &fd) || !number(env, argv[1], &uid) || !number(env, argv[2], &gid)) return NULL;
  // (uid_t)-1 means "leave it": an id must be a real one
  if (!(uid >= 0 && uid < 4294967295.0 && gid >= 0 && gid < 4294967295.0)) {
    napi_throw_range_error(env, NULL, "an owner or group id out of range");
    return NULL;
  }
  if (fstat((int)fd, &st) != 0) return throw_errno(env, "fstat");
  if ((st.st_uid != (uid_t)uid || st.st_gid != (gid_t)gid) && fchown((int)fd, (uid_t)uid, (gid_t)gid) != 0) return throw_errno(env, "fchown");
  return undefined(env);
}

// A Float64Array argument of at least `count` numbers; NULL after throwing.
static double *float64s(napi_env env, napi_value v, size_t count) {
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, NULL, NULL) != napi_ok || type != napi_float64_array || length < count) {
    napi_throw_type_error(env, NULL, "a Float64Array was expected");
    return NULL;
  }
  return data;
}

// lstat(path, out Float64Array(12)): what a backup's walk records of an entry, without the
// Stats object and BigInts Node makes for each: out = [mode, nlink, uid, gid, size, mtime s,
// mtime ns, rdev, dev high, dev low, ino high, ino low] (a double holds 53 bits, so the 64-bit
// device and inode numbers come in 32-bit halves)
static napi_value Lstat(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  double *out;
  if (!args(env, info, 2, argv) || (out = float64s(env, argv[1], 12)) == NULL) return NULL;
  char *path = cstring(env, argv[0]);
  if (path == NULL) return NULL;
  struct stat st;
  int rc = lstat(path, &st);
  free(path);
  if (rc != 0) return throw_errno(env, "lstat");
  uint64_t dev = st.st_dev, ino = st.st_ino;
  double values[12] = {st.st_mode, st.st_nlink, st.st_uid, st.st_gid, (double)st.st_size, (double)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
                       (double)st.st_rdev, (double)(dev >> 32), (double)(dev & 0xffffffffu), (double)(ino >> 32), (double)(ino & 0xffffffffu)};
  memcpy(out, values, sizeof values);
  return undefined(env);
}

// readStart(path, into Uint8Array, offset, length, expected, out Float64Array(2)): opens a file
// to back up and reads it once into into[offset, offset + length), as a backup's reader starts
// every file: one call where Node takes three (open, read, close), each costing more than its
// system call. out = [bytes read, descriptor, has extended attributes]: the descriptor is -1
// when the read ended the file (nothing read, or fewer bytes than asked and at least the
// `expected` size), and closed then; otherwise it is open for the caller to read on and close.
// With `xattrs` (an optional seventh argument) it also asks whether the file has extended
// attributes, through the descriptor: where it has (or the asking failed), out[2] is 1 and the
// descriptor stays open for the caller to read them. Without, out[2] is left as it was.
static napi_value ReadStart(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  napi_typedarray_type type;
  size_t into_len;
  void *into;
  double offset, length, expected, *out;
  bool xattrs = false;
  size_t argc = 7; // the seventh is optional: napi fills what is missing with undefined
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 6) {
    napi_throw_type_error(env, NULL, "missing arguments");
    return NULL;
  }
  if (!number(env, argv[2], &offset) || !number(env, argv[3], &length) || !number(env, argv[4], &expected))
    return NULL;
  napi_valuetype flag;
  if (napi_typeof(env, argv[6], &flag) == napi_ok && flag == napi_boolean) napi_get_value_bool(env, argv[6], &xattrs);
  if ((out = float64s(env, argv[5], xattrs ? 3 : 2)) == NULL) return NULL;
  if (napi_get_typedarray_info(env, argv[1], &type, &into_len, &into, NULL, NULL) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "a Uint8Array was expected");
    return NULL;
  }
  if (!(offset >= 0 && length >= 0 && offset + length <= (double)into_len)) {
    napi_throw_range_error(env, NULL, "a read past the end of the buffer");
    return NULL;
  }
  char *path = cstring(env, argv[0]);
  if (path == NULL) return NULL;
  // not blocking: a fifo put where the walk saw a file would block a plain open until a writer came
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  free(path);
  if (fd < 0) return throw_errno(env, "open");
  ssize_t n;
  do n = read(fd, (char *)into + (size_t)offset, (size_t)length);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    int e = errno;
    close(fd);
    errno = e;
    return throw_errno(env, "read");
  }
  // a file system that keeps none says so with ENOTSUP
  int has_xattrs = 0;
  if (xattrs) {
    ssize_t names = flistxattr(fd, NULL, 0);
    has_xattrs = names > 0 || (names < 0 && errno != ENOTSUP);
    out[2] = has_xattrs;
  }
  if (!has_xattrs && (n == 0 || ((double)n < length && (double)n >= expected))) {
    close(fd);
    fd = -1;
  }
  out[0] = (double)n;
  out[1] = fd;
  return undefined(env);
}

// gearScan(data Uint8Array, start, end, mask, gear Int32Array(256), state Int32Array(1)): the
// hot loop of content-defined chunking (src/chunking/fastcdc.ts, which documents it): rolls the
// gear hash state[0] over data[start, end) and returns the index after the first byte where
// (hash & mask) is 0, or -1 with the hash rolled to `end` in state[0]. Four times the speed of
// the same loop in JavaScript, and the same cuts to the byte (test/chunking/fastcdc.test.ts).
static napi_value GearScan(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  napi_typedarray_type type;
  size_t data_len, gear_len, state_len;
  void *data, *gear, *state;
  double start, end, mask;
  if (!args(env, info, 6, argv) || !number(env, argv[1], &start) || !number(env, argv[2], &end) || !number(env, argv[3], &mask)) return NULL;
  if (napi_get_typedarray_info(env, argv[0], &type, &data_len, &data, NULL, NULL) != napi_ok || type != napi_uint8_array ||
      napi_get_typedarray_info(env, argv[4], &type, &gear_len, &gear, NULL, NULL) != napi_ok || type != napi_int32_array || gear_len != 256 ||
      napi_get_typedarray_info(env, argv[5], &type, &state_len, &state, NULL, NULL) != napi_ok || type != napi_int32_array || state_len < 1) {
    napi_throw_type_error(env, NULL, "gearScan(Uint8Array, start, end, mask, Int32Array(256), Int32Array(1))");
    return NULL;
  }
  if (!(start >= 0 && start <= end && end <= (double)data_len)) {
    napi_throw_range_error(env, NULL, "a scan past the end of the data");
    return NULL;
  }
  const uint8_t *bytes = data;
  const uint32_t *table = gear;
  uint32_t m = (uint32_t)(int32_t)mask, h = (uint32_t)((int32_t *)state)[0];
  double cut = -1;
  for (size_t i = (size_t)start, stop = (size_t)end; i < stop; i++) {
    h = (h << 1) + table[bytes[i]];
    if ((h & m) == 0) {
      cut = (double)(i + 1);
      break;
    }
  }
  ((int32_t *)state)[0] = (int32_t)h;
  napi_value result;
  napi_create_double(env, cut, &result);
  return result;
}

// The bytes of a Uint8Array argument; NULL after throwing.
static uint8_t *uint8s(napi_env env, napi_value v, size_t *length) {
  napi_typedarray_type type;
  void *data;
  if (napi_get_typedarray_info(env, v, &type, length, &data, NULL, NULL) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, NULL, "a Uint8Array was expected");
    return NULL;
  }
  return data != NULL ? data : (uint8_t *)"";
}

// aesGcm(encrypt, key (32), nonce (12), aad, data, tag (16)): AES-256-GCM over data itself
// (src/format/object.ts). Encrypting writes the tag and returns true; decrypting checks the tag
// and returns whether it matched (data is then garbage, as with any in-place decryption).
static napi_value AesGcm(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  bool encrypt;
  size_t key_len, nonce_len, aad_len, data_len, tag_len;
  uint8_t *key, *nonce, *aad, *data, *tag;
  if (!args(env, info, 6, argv)) return NULL;
  if (napi_get_value_bool(env, argv[0], &encrypt) != napi_ok) {
    napi_throw_type_error(env, NULL, "a boolean was expected");
    return NULL;
  }
  if ((key = uint8s(env, argv[1], &key_len)) == NULL || (nonce = uint8s(env, argv[2], &nonce_len)) == NULL ||
      (aad = uint8s(env, argv[3], &aad_len)) == NULL || (data = uint8s(env, argv[4], &data_len)) == NULL || (tag = uint8s(env, argv[5], &tag_len)) == NULL)
    return NULL;
  if (key_len != 32 || nonce_len != 12 || tag_len != 16 || aad_len > INT_MAX) {
    napi_throw_range_error(env, NULL, "aesGcm: a 32-byte key, a 12-byte nonce and a 16-byte tag");
    return NULL;
  }
  int enc = encrypt ? 1 : 0, n;
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int ok = ctx != NULL && EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce, enc) == 1 &&
           (aad_len == 0 || EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) == 1);
  // GCM is a stream: each update gives back as many bytes as it was given
  for (size_t at = 0, piece; ok && at < data_len; at += piece) {
    piece = data_len - at < (1u << 30) ? data_len - at : (1u << 30);
    ok = EVP_CipherUpdate(ctx, data + at, &n, data + at, (int)piece) == 1 && (size_t)n == piece;
  }
  if (ok && !encrypt) ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1;
  if (!ok) {
    EVP_CIPHER_CTX_free(ctx);
    napi_throw_error(env, NULL, "aesGcm: the cipher could not be set up");
    return NULL;
  }
  int matched = EVP_CipherFinal_ex(ctx, data + data_len, &n) == 1; // no bytes held back, so none written
  if (encrypt && (!matched || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1)) {
    EVP_CIPHER_CTX_free(ctx);
    napi_throw_error(env, NULL, "aesGcm: encryption failed");
    return NULL;
  }
  EVP_CIPHER_CTX_free(ctx);
  napi_value result;
  napi_get_boolean(env, matched, &result);
  return result;
}

// sha256Ranges(data, ranges, out): the SHA-256 of data[start, start + length) for each pair
// (start, length) of the Uint32Array ranges, 32 bytes each into out, in order.
static napi_value Sha256Ranges(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  size_t data_len, out_len, count;
  uint8_t *data, *out;
  napi_typedarray_type type;
  void *raw;
  if (!args(env, info, 3, argv)) return NULL;
  if ((data = uint8s(env, argv[0], &data_len)) == NULL) return NULL;
  if (napi_get_typedarray_info(env, argv[1], &type, &count, &raw, NULL, NULL) != napi_ok || type != napi_uint32_array) {
    napi_throw_type_error(env, NULL, "a Uint32Array was expected");
    return NULL;
  }
  if ((out = uint8s(env, argv[2], &out_len)) == NULL) return NULL;
  const uint32_t *ranges = raw;
  if (count % 2 != 0 || out_len != count / 2 * 32) {
    napi_throw_range_error(env, NULL, "sha256Ranges: pairs of start and length, and 32 bytes of room for each");
    return NULL;
  }
  for (size_t i = 0; i < count; i += 2)
    if (ranges[i] > data_len || ranges[i + 1] > data_len - ranges[i]) {
      napi_throw_range_error(env, NULL, "sha256Ranges: a range beyond the data");
      return NULL;
    }
  // fetched once a call, not once a range (EVP_sha256() would look it up on every digest)
  EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  int ok = md != NULL && ctx != NULL;
  for (size_t i = 0; ok && i < count; i += 2)
    ok = EVP_DigestInit_ex2(ctx, md, NULL) == 1 && EVP_DigestUpdate(ctx, data + ranges[i], ranges[i + 1]) == 1 &&
         EVP_DigestFinal_ex(ctx, out + i / 2 * 32, NULL) == 1;
  EVP_MD_CTX_free(ctx);
  EVP_MD_free(md);
  if (!ok) napi_throw_error(env, NULL, "sha256Ranges: the digest failed");
  return NULL;
}

// closeFile(fd): closes what readStart left open (Node's close would warn, in a worker thread,
// of a descriptor it did not open)
static napi_value CloseFile(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  double fd;
  if (!args(env, info, 1, argv) || !number(env, argv[0], &fd)) return NULL;
  if (close((int)fd) != 0 && errno != EINTR) return throw_errno(env, "close");
  return undefined(env);
}

// lutimens(path, seconds, nanoseconds): the path itself, a symlink's own time when it is one
static napi_value Lutimens(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  struct timespec times[2];
  if (!args(env, info, 3, argv) || !read_times(env, argv + 1, times)) return NULL;
  char *path = cstring(env, argv[0]);
  if (path == NULL) return NULL;
  int rc = utimensat(AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW);
  free(path);
  if (rc != 0) return throw_errno(env, "utimensat");
  return undefined(env);
}

// mknod(path, mode with type bits, device number)
static napi_value Mknod(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  double mode, dev;
  if (!args(env, info, 3, argv) || !number(env, argv[1], &mode) || !number(env, argv[2], &dev)) return NULL;
  char *path = cstring(env, argv[0]);
  if (path == NULL) return NULL;
  int rc = mknod(path, (mode_t)mode, (dev_t)dev);
  free(path);
  if (rc != 0) return throw_errno(env, "mknod");
  return undefined(env);
}

// The target of an xattr call: a descriptor (a number) or a path (never followed).
typedef struct {
  int fd;
  char *path;
} target_t;

static int read_target(napi_env env, napi_value v, target_t *t) {
  napi_valuetype type;
  napi_typeof(env, v, &type);
  t->fd = -1;
  t->path = NULL;
  if (type == napi_number) {
    double fd;
    if (!number(env, v, &fd)) return 0;
    t->fd = (int)fd;
    return 1;
  }
  t->path = cstring(env, v);
  return t->path != NULL;
}

static ssize_t list_names(target_t *t, char *buf, size_t size) {
  return t->fd >= 0 ? flistxattr(t->fd, buf, size) : llistxattr(t->path, buf, size);
}

static ssize_t get_value(target_t *t, const char *name, void *buf, size_t size) {
  return t->fd >= 0 ? fgetxattr(t->fd, name, buf, size) : lgetxattr(t->path, name, buf, size);
}

// The list of names, or a value, in a buffer grown until it fits (it may grow between two calls).
static ssize_t read_all(target_t *t, const char *name, char **out) {
  for (size_t size = 1024;; size *= 4) {
    char *buf = malloc(size);
    if (buf == NULL) {
      errno = ENOMEM;
      return -1;
    }
    ssize_t n = name == NULL ? list_names(t, buf, size) : get_value(t, name, buf, size);
    if (n >= 0) {
      *out = buf;
      return n;
    }
    int e = errno;
    free(buf);
    errno = e;
    if (e != ERANGE || size > (1u << 24)) return -1;
  }
}

// xattrs(target) -> [[name Buffer, value Buffer], ...]; [] where the file system keeps none
static napi_value Xattrs(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  target_t t;
  if (!args(env, info, 1, argv) || !read_target(env, argv[0], &t)) return NULL;
  char *names = NULL;
  ssize_t names_len = read_all(&t, NULL, &names);
  napi_value result;
  napi_create_array(env, &result);
  if (names_len < 0) {
    int e = errno;
    free(t.path);
    if (e == ENOTSUP) return result;
    errno = e;
    return throw_errno(env, "listxattr");
  }
  uint32_t count = 0;
  for (char *name = names; name < names + names_len; name += strlen(name) + 1) {
    char *value = NULL;
    ssize_t value_len = read_all(&t, name, &value);
    if (value_len < 0) {
      if (errno == ENODATA) continue; // removed since it was listed
      int e = errno;
      free(names);
      free(t.path);
      errno = e;
      return throw_errno(env, "getxattr");
    }
    napi_value pair, n, v;
    napi_create_buffer_copy(env, strlen(name), name, NULL, &n);
    napi_create_buffer_copy(env, (size_t)value_len, value, NULL, &v);
    free(value);
    napi_create_array_with_length(env, 2, &pair);
    napi_set_element(env, pair, 0, n);
    napi_set_element(env, pair, 1, v);
    napi_set_element(env, result, count++, pair);
  }
  free(names);
  free(t.path);
  return result;
}

// setXattr(target, name Buffer, value Buffer)
static napi_value SetXattr(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  target_t t;
  void *value;
  size_t value_len;
  if (!args(env, info, 3, argv) || !read_target(env, argv[0], &t)) return NULL;
  char *name = cstring(env, argv[1]);
  if (name == NULL || napi_get_buffer_info(env, argv[2], &value, &value_len) != napi_ok) {
    free(t.path);
    free(name);
    return NULL;
  }
  int rc = t.fd >= 0 ? fsetxattr(t.fd, name, value, value_len, 0) : lsetxattr(t.path, name, value, value_len, 0);
  free(name);
  free(t.path);
  if (rc != 0) return throw_errno(env, "setxattr");
  return undefined(env);
}

// Account lookups through the C library, so that every source it is set up for (files, LDAP,
// systemd-homed...) answers, as ls and tar see them. Each returns undefined when there is no such
// account.
static napi_value string_or_undefined(napi_env env, const char *s) {
  napi_value v;
  if (s == NULL) return undefined(env);
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}

static napi_value number_or_undefined(napi_env env, int found, double n) {
  napi_value v;
  if (!found) return undefined(env);
  napi_create_double(env, n, &v);
  return v;
}

#define LOOKUP_BUFFER 16384

// The name of a user (or group) id, or undefined.
static napi_value name_of(napi_env env, napi_callback_info info, int group) {
  napi_value argv[1];
  double id;
  if (!args(env, info, 1, argv) || !number(env, argv[0], &id)) return NULL;
  char buf[LOOKUP_BUFFER];
  const char *name = NULL;
  if (group) {
    struct group gr, *found = NULL;
    getgrgid_r((gid_t)id, &gr, buf, sizeof buf, &found);
    if (found) name = found->gr_name;
  } else {
    struct passwd pw, *found = NULL;
    getpwuid_r((uid_t)id, &pw, buf, sizeof buf, &found);
    if (found) name = found->pw_name;
  }
  return string_or_undefined(env, name);
}

// The id of a user (or group) name given as a Buffer, or undefined.
static napi_value id_of(napi_env env, napi_callback_info info, int group) {
  napi_value argv[1];
  if (!args(env, info, 1, argv)) return NULL;
  char *name = cstring(env, argv[0]);
  if (name == NULL) return NULL;
  char buf[LOOKUP_BUFFER];
  int found_one = 0;
  double id = 0;
  if (group) {
    struct group gr, *found = NULL;
    getgrnam_r(name, &gr, buf, sizeof buf, &found);
    if (found) found_one = 1, id = found->gr_gid;
  } else {
    struct passwd pw, *found = NULL;
    getpwnam_r(name, &pw, buf, sizeof buf, &found);
    if (found) found_one = 1, id = found->pw_uid;
  }
  free(name);
  return number_or_undefined(env, found_one, id);
}

static napi_value UserName(napi_env env, napi_callback_info info) { return name_of(env, info, 0); }
static napi_value GroupName(napi_env env, napi_callback_info info) { return name_of(env, info, 1); }
static napi_value UserId(napi_env env, napi_callback_info info) { return id_of(env, info, 0); }
static napi_value GroupId(napi_env env, napi_callback_info info) { return id_of(env, info, 1); }

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"futimens", NULL, Futimens, NULL, NULL, NULL, napi_default, NULL},
      {"lutimens", NULL, Lutimens, NULL, NULL, NULL, napi_default, NULL},
      {"giveOwner", NULL, GiveOwner, NULL, NULL, NULL, napi_default, NULL},
      {"lstat", NULL, Lstat, NULL, NULL, NULL, napi_default, NULL},
      {"readStart", NULL, ReadStart, NULL, NULL, NULL, napi_default, NULL},
      {"closeFile", NULL, CloseFile, NULL, NULL, NULL, napi_default, NULL},
      {"gearScan", NULL, GearScan, NULL, NULL, NULL, napi_default, NULL},
      {"aesGcm", NULL, AesGcm, NULL, NULL, NULL, napi_default, NULL},
      {"sha256Ranges", NULL, Sha256Ranges, NULL, NULL, NULL, napi_default, NULL},
      {"mknod", NULL, Mknod, NULL, NULL, NULL, napi_default, NULL},
      {"xattrs", NULL, Xattrs, NULL, NULL, NULL, napi_default, NULL},
      {"setXattr", NULL, SetXattr, NULL, NULL, NULL, napi_default, NULL},
      {"userName", NULL, UserName, NULL, NULL, NULL, napi_default, NULL},
      {"groupName", NULL, GroupName, NULL, NULL, NULL, napi_default, NULL},
      {"userId", NULL, UserId, NULL, NULL, NULL, napi_default, NULL},
      {"groupId", NULL, GroupId, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
