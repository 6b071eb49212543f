/* The smallest program: exits 0 at once (cage start latency). */
int main(void) { return 0; }
