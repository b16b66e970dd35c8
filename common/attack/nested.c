/* nested.c - the nested-ball rule (eval.h) that `rove attack` and the
 * sweep's scheduler both skip work by. */
#include "common/eval.h"

int rove_break_carries(double eps_from, double eps_to) {
  return eps_from <= eps_to;
}

void rove_eps_ascending(const double *eps, int n, int *ord) {
  for (int i = 0; i < n; i++)
    ord[i] = i;
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && eps[ord[j]] < eps[ord[j - 1]]; j--) {
      int t = ord[j];
      ord[j] = ord[j - 1];
      ord[j - 1] = t;
    }
}
