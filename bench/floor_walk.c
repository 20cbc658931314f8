/* The floor for walking a dataset: every entry lstat'ed (fstatat, AT_SYMLINK_NOFOLLOW), the root's
 * subfolders shared by N threads (default 2). Nothing is read or hashed. Prints the entry count.
 * Built by bench/walk.py: cc -O2 -pthread bench/floor_walk.c -o bench/work/floor-walk */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char **folders;
static int folder_count;
static atomic_int next_folder;
static atomic_long entries;

static void walk(int parent, const char *name) {
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    DIR *dir = fdopendir(fd);
    if (!dir) { close(fd); return; }
    struct dirent *e;
    long n = 0;
    while ((e = readdir(dir))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        struct stat s;
        if (fstatat(fd, e->d_name, &s, AT_SYMLINK_NOFOLLOW) != 0) continue;
        n++;
        if (S_ISDIR(s.st_mode)) walk(fd, e->d_name);
    }
    atomic_fetch_add(&entries, n);
    closedir(dir);
}

static void *worker(void *root) {
    int at = open((const char *)root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    for (int i; (i = atomic_fetch_add(&next_folder, 1)) < folder_count;) walk(at, folders[i]);
    close(at);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: floor-walk DIR [THREADS]\n"); return 2; }
    int threads = argc > 2 ? atoi(argv[2]) : 2;
    DIR *dir = opendir(argv[1]);
    if (!dir) { perror(argv[1]); return 1; }
    struct dirent *e;
    int capacity = 1024;
    folders = malloc(sizeof(char *) * capacity);
    while ((e = readdir(dir))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        struct stat s;
        if (fstatat(dirfd(dir), e->d_name, &s, AT_SYMLINK_NOFOLLOW) != 0) continue;
        atomic_fetch_add(&entries, 1);
        if (!S_ISDIR(s.st_mode)) continue;
        if (folder_count == capacity) folders = realloc(folders, sizeof(char *) * (capacity *= 2));
        folders[folder_count++] = strdup(e->d_name);
    }
    pthread_t t[64];
    if (threads > 64) threads = 64;
    for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, worker, argv[1]);
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    closedir(dir);
    printf("%ld\n", atomic_load(&entries));
    return 0;
}
