/* The built-in configuration (guest/default.conf), used without keel.conf. */
	.section .rodata
	.global default_config, default_config_end
default_config:
	.incbin "guest/default.conf"
default_config_end:
	.byte 0
