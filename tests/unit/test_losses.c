/* test_losses.c - attack losses against closed forms, central finite
 * differences and their invariances; the float32 saturation they fix. */
#include <criterion/criterion.h>
#include <math.h>

#include "common/attack/attack.h"

static double loss_at(int loss, const double *zd, int K,
                      const rove__lossarg *a) {
  float z[16];
  for (int j = 0; j < K; j++)
    z[j] = (float)zd[j];
  return rove__loss_eval(loss, z, K, a, NULL);
}

/* Central differences on float logits (steps big enough to move floats):
 * every loss is piecewise smooth and the test points are far from kinks. */
static void check_grad(int loss, const float *z, int K,
                       const rove__lossarg *a) {
  float dz[16];
  rove__loss_eval(loss, z, K, a, dz);
  for (int j = 0; j < K; j++) {
    double zp[16], zm[16], h = 1.0 / 64;
    for (int q = 0; q < K; q++)
      zp[q] = zm[q] = z[q];
    zp[j] += h;
    zm[j] -= h;
    double fd = (loss_at(loss, zp, K, a) - loss_at(loss, zm, K, a)) / (2 * h);
    cr_expect(fabs(fd - dz[j]) < 2e-3 * (1 + fabs(fd)),
              "%s: d/dz[%d] analytic %g vs finite difference %g",
              rove__loss_name(loss), j, dz[j], fd);
  }
}

Test(losses, gradients_match_finite_differences) {
  const float z[6] = {1.3f, -0.7f, 2.9f, 0.4f, -1.8f, 2.1f};
  float w[6] = {0.3f, -0.9f, 0.5f, 0.1f, -0.2f, 0.8f};
  for (int y = 0; y < 6; y++) {
    rove__lossarg a = {y, (y + 3) % 6, 1.7, w};
    for (int l = 0; l < ROVE__LOSS_COUNT; l++)
      check_grad(l, z, 6, &a);
  }
}

Test(losses, ce_closed_form_and_stability) {
  const float z[3] = {1, 2, 3};
  rove__lossarg a = {0, 0, 1, NULL};
  double want = log(exp(1.0) + exp(2.0) + exp(3.0)) - 1.0;
  cr_expect(fabs(rove__loss_eval(ROVE__LOSS_CE, z, 3, &a, NULL) - want) <
            1e-12);
  /* Logits of +-1000 overflow a naive exp; the stable form gives 1000. */
  const float big[3] = {1000, 0, -1000};
  a.y = 1;
  float dz[3];
  double l = rove__loss_eval(ROVE__LOSS_CE, big, 3, &a, dz);
  cr_expect(isfinite(l) && fabs(l - 1000) < 1e-9, "CE %g", l);
  cr_expect(fabs(dz[0] - 1) < 1e-6 && fabs(dz[1] + 1) < 1e-6);
}

Test(losses, ce_saturates_where_references_say) {
  /* Case 1: past a margin of ~104 the logit gradient of CE is exactly 0
   * in float32, so a sign step does not move. Rescaled CE and DLR still
   * give a usable direction at the same point. */
  const float z[3] = {200, 0, -5};
  rove__lossarg a = {0, 1, rove__scaled_temp(z, 3), NULL};
  float dz[3];
  rove__loss_eval(ROVE__LOSS_CE, z, 3, &a, dz);
  cr_expect(dz[0] == 0 && dz[1] == 0 && dz[2] == 0,
            "float32 CE gradient at margin 200 should be exactly 0");
  rove__loss_eval(ROVE__LOSS_CE_SCALED, z, 3, &a, dz);
  cr_expect(dz[0] < 0 && dz[1] > 0, "rescaled CE must not saturate");
  rove__loss_eval(ROVE__LOSS_DLR, z, 3, &a, dz);
  cr_expect(dz[0] < 0 && dz[1] > 0, "DLR must not saturate");
  /* And at margin 20 (> 16.6) CE is still nonzero in double. */
  const float z2[2] = {20, 0};
  a.y = 0;
  cr_expect(rove__loss_eval(ROVE__LOSS_CE, z2, 2, &a, NULL) > 0);
}

Test(losses, cw_masks_the_true_class) {
  /* All logits negative: multiplying the true class by 0 (a known bug)
   * would make the "other max" 0 and the loss 3. */
  const float z[3] = {-5, -3, -4};
  rove__lossarg a = {1, 0, 1, NULL};
  cr_expect_eq(rove__loss_eval(ROVE__LOSS_CW, z, 3, &a, NULL), -1.0);
  cr_expect_eq(rove__margin(z, 3, 1), 1.0);
}

Test(losses, dlr_shift_and_scale_invariant) {
  const float z[5] = {0.5f, 3.0f, -1.0f, 2.0f, 1.5f};
  float zs[5];
  for (int j = 0; j < 5; j++)
    zs[j] = 1000.0f * z[j] + 37.0f;
  for (int y = 0; y < 5; y++) {
    rove__lossarg a = {y, (y + 2) % 5, 1, NULL};
    double l1 = rove__loss_eval(ROVE__LOSS_DLR, z, 5, &a, NULL);
    double l2 = rove__loss_eval(ROVE__LOSS_DLR, zs, 5, &a, NULL);
    cr_expect(fabs(l1 - l2) < 1e-6, "DLR %g vs scaled %g", l1, l2);
    l1 = rove__loss_eval(ROVE__LOSS_DLR_T, z, 5, &a, NULL);
    l2 = rove__loss_eval(ROVE__LOSS_DLR_T, zs, 5, &a, NULL);
    cr_expect(fabs(l1 - l2) < 1e-6, "DLR-T %g vs scaled %g", l1, l2);
    /* Rescaled CE with its per-example temperature is scale-invariant
     * (not shift: softmax is, the temperature is a gap). */
    a.temp = rove__scaled_temp(z, 5);
    l1 = rove__loss_eval(ROVE__LOSS_CE_SCALED, z, 5, &a, NULL);
    a.temp = rove__scaled_temp(zs, 5);
    l2 = rove__loss_eval(ROVE__LOSS_CE_SCALED, zs, 5, &a, NULL);
    cr_expect(fabs(l1 - l2) < 1e-5, "CE-scaled %g vs scaled %g", l1, l2);
  }
  /* DLR value by hand: y = 1 is top, pi = (1, 3, 4, 0, 2):
   * -(3 - 2) / (3 - 1.5). */
  rove__lossarg a = {1, 0, 1, NULL};
  cr_expect(fabs(rove__loss_eval(ROVE__LOSS_DLR, z, 5, &a, NULL) + 1.0 / 1.5) <
            1e-9);
}

Test(losses, class_requirements_and_argmax) {
  cr_expect_eq(rove__loss_min_classes(ROVE__LOSS_DLR), 3);
  cr_expect_eq(rove__loss_min_classes(ROVE__LOSS_DLR_T), 4);
  cr_expect_eq(rove__loss_min_classes(ROVE__LOSS_CE), 2);
  const float tie[3] = {2, 2, 1};
  cr_expect_eq(rove__argmax(tie, 3), 0, "first index wins a tie");
  cr_expect_eq(rove__margin(tie, 3, 1), 0.0);
  const float z[3] = {1, 4, 2};
  cr_expect_eq(rove__scaled_temp(z, 3), 2.0);
}
