/* lind-musl wasm32: the setjmp/longjmp runtime (wasm exception handling).
 *
 * wasm code cannot save or restore its call stack, so setjmp/longjmp are
 * compiled by clang's wasm SjLj lowering (cc passes -mexception-handling
 * -mllvm -wasm-enable-sjlj to every program).  clang 18 rewrites, in the
 * function that calls setjmp:
 *
 *   setjmp(env)      ->  table = saveSetjmp(env, label, table, size);
 *                        size = getTempRet0();
 *   longjmp(env, v)  ->  __wasm_longjmp(env, v)
 *
 * and wraps the calls that may longjmp in try/catch on the tag __c_longjmp.
 * The catch receives a pointer to {env, val}, asks testSetjmp(env's id,
 * table, size) whether env was set by *this* invocation (then it resumes at
 * that setjmp's label with val as setjmp's result) or rethrows it outward.
 *
 * The functions below are that runtime.  `table` is a per-invocation array
 * (malloc'd by the generated code, freed by it) of {id, label} pairs ending
 * with id 0, with room for `size` entries plus the terminator; each setjmp
 * gets a new process-wide id, stored in env's first word.  The thrown
 * {env, val} pair lives in env itself (the second 64-bit slot of __jmp_buf),
 * so a longjmp allocates nothing.  longjmp(env, 0) makes setjmp return 1.
 *
 * A setjmp also records how many signal handlers the thread is running
 * (__lind_handler_depth, src/lind/signal.c) in the second word of env; a
 * longjmp brings the count back to it, which is how the runtime learns that
 * a handler was left by longjmp (siglongjmp out of a handler).
 *
 * After linking, cc puts __wasm_longjmp's body (a call of __lind_sjlj_args,
 * then the throw) in place of each call of it (toolchain/sjlj_throw.py), so
 * the throw leaves from the frame that called longjmp.
 *
 * The exception travels inside wasm only (no host frame in between), so it
 * works the same when the cage was suspended in a system call meanwhile.
 * This file is built with the SjLj flags (it throws). */
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>

#undef _longjmp

struct sjlj_entry {
	uint32_t id;
	uint32_t label;
};

struct sjlj_args {
	void *env;
	int val;
};

static uint32_t last_id;
extern _Thread_local unsigned __lind_handler_depth;
static _Thread_local uint32_t temp_ret0;

uint32_t getTempRet0(void)
{
	return temp_ret0;
}

void setTempRet0(uint32_t value)
{
	temp_ret0 = value;
}

struct sjlj_entry *saveSetjmp(uint32_t *env, uint32_t label,
                              struct sjlj_entry *table, uint32_t size)
{
	uint32_t id = __atomic_add_fetch(&last_id, 1, __ATOMIC_RELAXED);
	uint32_t i = 0;

	env[0] = id;
	env[1] = __lind_handler_depth;
	while (i < size && table[i].id != 0)
		i++;
	if (i == size) {
		/* full: double it (+1 for the terminator) */
		size *= 2;
		table = realloc(table, sizeof *table * (size + 1));
		if (!table)
			abort();
	}
	table[i].id = id;
	table[i].label = label;
	table[i + 1].id = 0;
	temp_ret0 = size;
	return table;
}

uint32_t testSetjmp(uint32_t id, struct sjlj_entry *table, uint32_t size)
{
	for (uint32_t i = 0; i < size && table[i].id != 0; i++)
		if (table[i].id == id)
			return table[i].label;
	return 0;
}

/* A jump to env leaves the handlers started since its setjmp: they have ended. */
void __lind_sjlj_leave(void *env)
{
	unsigned depth = ((uint32_t *)env)[1];

	if (depth < __lind_handler_depth)
		__lind_handler_depth = depth;
}

/* Everything a longjmp does but the throw: the {env, val} pair to throw. */
__attribute__((noinline)) struct sjlj_args *__lind_sjlj_args(void *env, int val)
{
	struct sjlj_args *args = (struct sjlj_args *)((unsigned long long *)env + 1);

	__lind_sjlj_leave(env);

	args->env = env;
	args->val = val ? val : 1;
	return args;
}

/* Kept to exactly `call __lind_sjlj_args; throw`: the link step (toolchain/sjlj_throw.py)
 * puts that pair in place of every call to this function, so that the throw leaves from the
 * frame that called longjmp (wasmtime's throw costs ~30 ns per frame it unwinds). */
_Noreturn void __wasm_longjmp(void *env, int val)
{
	__builtin_wasm_throw(1, __lind_sjlj_args(env, val)); /* tag 1: __c_longjmp */
}

/* Reached only from code built without the SjLj lowering (which calls
 * __wasm_longjmp directly). */
_Noreturn void longjmp(jmp_buf env, int val)
{
	__wasm_longjmp(env, val);
}

_Noreturn void _longjmp(jmp_buf env, int val)
{
	__wasm_longjmp(env, val);
}
