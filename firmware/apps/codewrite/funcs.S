/* Three functions of exactly 16 bytes each (uncompressed, padded), 64-byte aligned, so their
 * bytes can be copied over one another: f returns 1, g 2, h 3. */
    .option norvc
    .section .text.codewrite, "ax", @progbits
    .balign 64
    .globl f_code
f_code:
    li a0, 1
    ret
    .balign 16, 0
    .balign 64
    .globl g_code
g_code:
    li a0, 2
    ret
    .balign 16, 0
    .balign 64
    .globl h_code
h_code:
    li a0, 3
    ret
    .balign 16, 0
