/* being written (session 1) */
#include <stdio.h>
int main(void)
{
	printf("1..0 # SKIP being written\n");
	return 0;
}
