/*
 * The physical floor for bench/qmp_bench.py: the least a QMP-looking server can do on a unix
 * socket.  It greets every client, then answers every newline-terminated line with one fixed
 * query-status reply, without parsing anything.  It exists to measure the benchmark client (a
 * client that can't go much faster than this server's rate is the bottleneck) and the cost of the
 * socket itself; it is no QMP implementation.
 *
 *     qmp_floor_server SOCKET...    (one listening socket each; one thread per connection)
 *
 * Built by qmp_bench.py with the system C compiler into a temporary directory.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char GREETING[] =
    "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 0, \"major\": 0}, "
    "\"package\": \"floor\"}, \"capabilities\": []}}\r\n";
static const char REPLY[] =
    "{\"return\": {\"status\": \"prelaunch\", \"singlestep\": false, \"running\": false}}\r\n";

static int write_all(int fd, const char *data, size_t size)
{
    while (size > 0) {
        ssize_t written = write(fd, data, size);
        if (written <= 0) {
            return -1;
        }
        data += written;
        size -= (size_t)written;
    }
    return 0;
}

static void *serve_client(void *argument)
{
    int fd = (int)(long)argument;
    char input[16384];
    /* At most one reply per input byte. */
    char *out = malloc(sizeof(input) * (sizeof(REPLY) - 1));

    if (out != NULL && write_all(fd, GREETING, sizeof(GREETING) - 1) == 0) {
        for (;;) {
            ssize_t size = read(fd, input, sizeof(input));
            size_t lines = 0;
            if (size <= 0) {
                break;
            }
            for (ssize_t i = 0; i < size; i++) {
                if (input[i] == '\n') {
                    memcpy(out + lines * (sizeof(REPLY) - 1), REPLY, sizeof(REPLY) - 1);
                    lines++;
                }
            }
            if (lines > 0 && write_all(fd, out, lines * (sizeof(REPLY) - 1)) != 0) {
                break;
            }
        }
    }
    free(out);
    close(fd);
    return NULL;
}

static void *accept_loop(void *argument)
{
    int listener = (int)(long)argument;
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        pthread_t thread;
        if (fd < 0) {
            continue;
        }
        if (pthread_create(&thread, NULL, serve_client, (void *)(long)fd) != 0) {
            close(fd);
            continue;
        }
        pthread_detach(thread);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t thread;
    for (int i = 1; i < argc; i++) {
        struct sockaddr_un address = {.sun_family = AF_UNIX};
        int listener = socket(AF_UNIX, SOCK_STREAM, 0);
        if (strlen(argv[i]) >= sizeof(address.sun_path)) {
            fprintf(stderr, "socket path too long: %s\n", argv[i]);
            return 1;
        }
        strcpy(address.sun_path, argv[i]);
        if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof(address)) != 0
            || listen(listener, 64) != 0) {
            perror(argv[i]);
            return 1;
        }
        if (pthread_create(&thread, NULL, accept_loop, (void *)(long)listener) != 0) {
            perror("pthread_create");
            return 1;
        }
    }
    pause();
    return 0;
}
