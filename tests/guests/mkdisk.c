/* Writes the test disk (diskpattern.h) to the file named by argv[1]. */
#include <stdio.h>

#include "diskpattern.h"

int main(int argc, char **argv)
{
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: mkdisk FILE\n");
		return 2;
	}
	f = fopen(argv[1], "wb");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	for (uint32_t s = 0; s < DISK_SECTORS; s++)
		for (uint32_t i = 0; i < DISK_SECTOR; i++)
			fputc(disk_byte(s, i), f);
	return fclose(f) ? 1 : 0;
}
