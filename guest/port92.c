/* System control port A (guest/port92.h). */
#include "guest/port92.h"

#define PORT92_RW (PORT92_INIT_NOW | PORT92_A20)

uint8_t port92_write(uint8_t reg, uint8_t val, bool *init)
{
	*init = (val & PORT92_INIT_NOW) && !(reg & PORT92_INIT_NOW);
	return (uint8_t)(val & PORT92_RW);
}
