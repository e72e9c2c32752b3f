/* tools.h — what the `vigil` tool's subcommand files share: each family of subcommands is one
 * file with one entry point; vigil.c dispatches on argv[1]. Entry points get argv from the
 * subcommand's name on and return the process exit code. */
#ifndef VIGIL_TOOLS_H
#define VIGIL_TOOLS_H

#define EXIT_USAGE 2

/* vigil promql-test FILE... (promql_test.c) */
int cmd_promql_test(int argc, char **argv);

#endif
