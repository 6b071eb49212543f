/* A JavaScript-interpreter-style stack guard, as QuickJS does it (JS_UpdateStackTop,
 * js_check_stack_overflow): at start the engine records its stack top from
 * __builtin_frame_address(0) and a limit STACK_SIZE below it; the parser and the evaluator check
 * the frame address against the limit on every recursion and throw a catchable
 * "InternalError: stack overflow" (a longjmp to the top level). The top level prints the error and
 * evaluates the next input, so the interpreter is still alive after it; a deep but legal recursion
 * (10 000 calls of a user function, each a C frame with its own locals array, as QuickJS's
 * JS_CallInternal allocas its frame) succeeds within a 4 MiB budget (argv[1], in KiB).
 *
 * The language: lines of `fn NAME(a, b) = EXPR` definitions and expressions, with numbers,
 * parameters, + - * / %, unary -, < and ==, `c ? a : b` and calls. Errors are JS-like:
 * SyntaxError, ReferenceError, RangeError (division by zero), InternalError. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uintptr_t stack_limit;
static jmp_buf catch_point;
static char error[128];

static void throw_error(const char *kind, const char *what) {
    snprintf(error, sizeof error, "%s: %s", kind, what);
    longjmp(catch_point, 1);
}

/* js_check_stack_overflow: the frame address against the limit, `extra` bytes still to come. */
static inline void check_stack(size_t extra) {
    if ((uintptr_t)__builtin_frame_address(0) - extra < stack_limit)
        throw_error("InternalError", "stack overflow");
}

/* ---------------------------------------------------------------- the syntax tree */

enum op { NUM, ARG, ADD, SUB, MUL, DIV, MOD, NEG, LT, EQ, COND, CALL };
struct node {
    enum op op;
    int64_t value;       /* NUM: the number; ARG: the parameter index; CALL: the function */
    struct node *a, *b, *c;
    struct node **args;  /* CALL */
    int nargs;
};

#define MAXFUNCS 16
#define MAXPARAMS 4
struct function {
    char name[32];
    char params[MAXPARAMS][32];
    int nparams;
    struct node *body;
};
static struct function funcs[MAXFUNCS];
static int nfuncs;

static struct node *new_node(enum op op) {
    struct node *n = calloc(1, sizeof *n);
    if (!n) throw_error("InternalError", "out of memory");
    n->op = op;
    return n;
}

/* ---------------------------------------------------------------- the parser */

static const char *src;
static struct function *defining; /* whose parameters names refer to */

static void skip(void) {
    while (*src == ' ' || *src == '\t') src++;
}

static int accept(const char *token) {
    skip();
    size_t n = strlen(token);
    if (strncmp(src, token, n) != 0) return 0;
    src += n;
    return 1;
}

static void expect(const char *token) {
    if (!accept(token)) {
        char what[64];
        snprintf(what, sizeof what, "expected '%s'", token);
        throw_error("SyntaxError", what);
    }
}

static int ident(char out[32]) {
    skip();
    int n = 0;
    while ((*src >= 'a' && *src <= 'z') || (*src >= 'A' && *src <= 'Z') || *src == '_' ||
           (n > 0 && *src >= '0' && *src <= '9')) {
        if (n < 31) out[n++] = *src;
        src++;
    }
    out[n] = 0;
    return n > 0;
}

static struct node *parse_expr(void);

static struct node *parse_primary(void) {
    check_stack(0);
    skip();
    if (accept("(")) {
        struct node *e = parse_expr();
        expect(")");
        return e;
    }
    if (*src >= '0' && *src <= '9') {
        struct node *n = new_node(NUM);
        n->value = strtoll(src, (char **)&src, 10);
        return n;
    }
    char name[32];
    if (!ident(name)) throw_error("SyntaxError", "unexpected token");
    if (accept("(")) {
        int f = 0;
        while (f < nfuncs && strcmp(funcs[f].name, name) != 0) f++;
        if (f == nfuncs) throw_error("ReferenceError", "function is not defined");
        struct node *n = new_node(CALL);
        n->value = f;
        n->args = calloc(MAXPARAMS, sizeof *n->args);
        if (!accept(")")) {
            do {
                if (n->nargs == MAXPARAMS) throw_error("SyntaxError", "too many arguments");
                n->args[n->nargs++] = parse_expr();
            } while (accept(","));
            expect(")");
        }
        return n;
    }
    for (int i = 0; defining && i < defining->nparams; i++) {
        if (strcmp(defining->params[i], name) == 0) {
            struct node *n = new_node(ARG);
            n->value = i;
            return n;
        }
    }
    throw_error("ReferenceError", "variable is not defined");
    return NULL;
}

static struct node *parse_unary(void) {
    check_stack(0);
    if (accept("-")) {
        struct node *n = new_node(NEG);
        n->a = parse_unary();
        return n;
    }
    return parse_primary();
}

static struct node *binary(enum op op, struct node *a, struct node *b) {
    struct node *n = new_node(op);
    n->a = a;
    n->b = b;
    return n;
}

static struct node *parse_mul(void) {
    struct node *n = parse_unary();
    for (;;) {
        if (accept("*")) n = binary(MUL, n, parse_unary());
        else if (accept("/")) n = binary(DIV, n, parse_unary());
        else if (accept("%")) n = binary(MOD, n, parse_unary());
        else return n;
    }
}

static struct node *parse_add(void) {
    struct node *n = parse_mul();
    for (;;) {
        if (accept("+")) n = binary(ADD, n, parse_mul());
        else if (accept("-")) n = binary(SUB, n, parse_mul());
        else return n;
    }
}

static struct node *parse_cmp(void) {
    struct node *n = parse_add();
    if (accept("<")) return binary(LT, n, parse_add());
    if (accept("==")) return binary(EQ, n, parse_add());
    return n;
}

static struct node *parse_expr(void) {
    check_stack(0);
    struct node *n = parse_cmp();
    if (!accept("?")) return n;
    struct node *c = new_node(COND);
    c->a = n;
    c->b = parse_expr();
    expect(":");
    c->c = parse_expr();
    return c;
}

/* ---------------------------------------------------------------- the evaluator */

struct frame { int64_t locals[MAXPARAMS]; struct frame *caller; };

static int64_t eval(struct node *n, struct frame *f);

/* As JS_CallInternal: the callee's frame (arguments and locals) lives on the C stack. */
static int64_t call(struct node *n, struct frame *caller) {
    struct function *fn = &funcs[n->value];
    check_stack(sizeof(struct frame));
    struct frame frame;
    memset(&frame, 0, sizeof frame);
    frame.caller = caller;
    if (n->nargs != fn->nparams) throw_error("TypeError", "wrong number of arguments");
    for (int i = 0; i < n->nargs; i++) frame.locals[i] = eval(n->args[i], caller);
    return eval(fn->body, &frame);
}

static int64_t eval(struct node *n, struct frame *f) {
    check_stack(0);
    int64_t a, b;
    switch (n->op) {
    case NUM: return n->value;
    case ARG: return f->locals[n->value];
    case NEG: return -eval(n->a, f);
    case COND: return eval(n->a, f) ? eval(n->b, f) : eval(n->c, f);
    case CALL: return call(n, f);
    default: break;
    }
    a = eval(n->a, f);
    b = eval(n->b, f);
    switch (n->op) {
    case ADD: return a + b;
    case SUB: return a - b;
    case MUL: return a * b;
    case DIV:
    case MOD:
        if (b == 0) throw_error("RangeError", "division by zero");
        return n->op == DIV ? a / b : a % b;
    case LT: return a < b;
    case EQ: return a == b;
    default: throw_error("InternalError", "bad node");
    }
    return 0;
}

/* ---------------------------------------------------------------- the top level */

static void run(const char *line) {
    src = line;
    defining = NULL;
    if (setjmp(catch_point)) {
        printf("%s\n", error);
        return;
    }
    if (accept("fn ")) {
        if (nfuncs == MAXFUNCS) throw_error("InternalError", "too many functions");
        struct function *fn = &funcs[nfuncs];
        memset(fn, 0, sizeof *fn);
        if (!ident(fn->name)) throw_error("SyntaxError", "function name expected");
        expect("(");
        if (!accept(")")) {
            do {
                if (fn->nparams == MAXPARAMS || !ident(fn->params[fn->nparams]))
                    throw_error("SyntaxError", "bad parameter list");
                fn->nparams++;
            } while (accept(","));
            expect(")");
        }
        expect("=");
        nfuncs++; /* visible to its own body: recursion */
        defining = fn;
        fn->body = parse_expr();
        skip();
        if (*src) {
            nfuncs--;
            throw_error("SyntaxError", "unexpected trailing input");
        }
        printf("defined %s/%d\n", fn->name, fn->nparams);
        return;
    }
    struct node *e = parse_expr();
    skip();
    if (*src) throw_error("SyntaxError", "unexpected trailing input");
    printf("%" PRId64 "\n", eval(e, NULL));
}

/* Nested parentheses around 1, `depth` deep. */
static char *nested(int depth) {
    char *s = malloc((size_t)depth * 2 + 2);
    memset(s, '(', (size_t)depth);
    s[depth] = '1';
    memset(s + depth + 1, ')', (size_t)depth);
    s[depth * 2 + 1] = 0;
    return s;
}

int main(int argc, char **argv) {
    /* JS_NewRuntime / JS_UpdateStackTop; JS_SetMaxStackSize from `qjs --stack-size`, whose
     * default is JS_DEFAULT_STACK_SIZE, 1 MiB. */
    uintptr_t stack_size = argc > 1 ? strtoul(argv[1], NULL, 10) << 10 : 1u << 20;
    uintptr_t stack_top = (uintptr_t)__builtin_frame_address(0);
    stack_limit = stack_top - stack_size;
    printf("stack size %lu KiB, limit below top: %s\n", (unsigned long)(stack_size >> 10),
           stack_limit < stack_top ? "yes" : "wrapped");

    const char *program[] = {
        "1 + 2 * 3",
        "fn sum(n) = n < 1 ? 0 : n + sum(n - 1)",
        "sum(100)",
        "sum(2000)",
        "sum(10000)", /* deep: legal with a 4 MiB budget, too deep for 1 MiB */
        "fn fact(n) = n < 2 ? 1 : n * fact(n - 1)",
        "fact(20)",
        "fn forever(n) = forever(n + 1) + 1",
        "forever(0)", /* unbounded: the guard stops it */
        "sum(10)",    /* still alive */
        "fn ack(m, n) = m == 0 ? n + 1 : n == 0 ? ack(m - 1, 1) : ack(m - 1, ack(m, n - 1))",
        "ack(2, 3)",
        "7 / (3 - 3)",
        "nope(1)",
        "1 +",
        "forever(1)", /* again, after other errors */
        "fact(10) % 1000",
    };
    for (size_t i = 0; i < sizeof program / sizeof *program; i++) {
        printf("> %s\n", program[i]);
        run(program[i]);
    }
    /* The parser's own recursion: legal, then far too deep. */
    char *ok = nested(500), *deep = nested(1000000);
    printf("> (500 parentheses)\n");
    run(ok);
    printf("> (1000000 parentheses)\n");
    run(deep);
    printf("> sum(10000) - fact(5)\n");
    run("sum(10000) - fact(5)");
    free(ok);
    free(deep);
    return 0;
}
