#ifndef HELLO_MATHX_H
#define HELLO_MATHX_H

int add(int a, int b);
int factorial(int n);

#endif
