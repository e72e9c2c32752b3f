/* main.c — a consumer of an installed libvigil: it includes only the umbrella header and calls
 * two functions, which is enough to prove the headers, the library and its link line work. */
#include <stdio.h>
#include <string.h>

#include <vigil.h>

int main(void)
{
    const char *version = vigil_version();
    const char *ok = vigil_strerror(VIGIL_OK);
    printf("vigil %s: %s\n", version, ok);
    if (strcmp(version, VIGIL_VERSION_STRING) != 0) {
        fprintf(stderr, "header says %s, library says %s\n", VIGIL_VERSION_STRING, version);
        return 1;
    }
    return 0;
}
