/* Shared declarations of rlcore's compiled kernels: the update kernels (kernels.c), the
 * classic-control environments and observation normalisation (envs.c) and the loops that
 * run them together (loops.c). */
#ifndef RLCORE_KERNELS_H
#define RLCORE_KERNELS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAXL 8
#define MAXP 40
#define MAXC 4

typedef void (*sgemm_fn)(const char *, const char *, const int *, const int *, const int *, const float *,
                         const float *, const int *, const float *, const int *, const float *, float *,
                         const int *);

typedef struct {
    int L, hidden_act, out_act, wt;
    int dims[MAXL + 1];
    float *W[MAXL], *b[MAXL], *gW[MAXL], *gb[MAXL];
} Mlp;

typedef struct {
    int n;
    float b1, b2, eps, wd;
    int size[MAXP];
    float *p[MAXP], *g[MAXP], *m[MAXP], *v[MAXP], *step[MAXP];
} Adam;

typedef struct {
    int nc, obs_dim, act_dim, max_batch, npolyak;
    float gamma, tau, target_noise, noise_clip, target_entropy, log_std_min, log_std_max;
    Mlp actor, actor_t;
    Mlp critic[MAXC], critic_t[MAXC];
    Adam actor_opt, critic_opt, alpha_opt;
    int polyak_size[2 * MAXP];
    float *polyak_t[2 * MAXP], *polyak_s[2 * MAXP];
    float *obs, *next_obs, *act, *rew, *done;
    float *log_alpha;
    float *ws;
} OffCtx;

typedef struct {
    int obs_dim, act_dim, nout, discrete, max_batch, norm_adv;
    float vf_coef, ent_coef, clip_vf, max_grad_norm;
    Mlp pi, vf;
    float *log_std, *g_log_std;
    Adam opt;
    float *ws;
} PPOCtx;

/* A batch of one classic-control task (see envs.c). Layouts follow rlcore's TorchVecEnv:
 * the state is component-major [state_dim, n] float64. Resets take state_dim uniforms each
 * from pool[pool_pos:]; finished episodes are appended to rec_return / rec_length. */
typedef struct {
    int kind, n, state_dim, obs_dim, act_dim, max_steps;
    double *state, *ep_return, *low, *span, *pool, *rec_return;
    int64_t *elapsed, *rec_length;
    int64_t pool_size, pool_pos, rec_cap, rec_n;
} EnvCtx;

/* Running mean / variance of observations (rlcore.utils.RunningMeanStd) and the clip and
 * epsilon of NormalizeObservation. */
typedef struct {
    int dim, update;
    double *mean, *var, count;
    double clip, eps;
} NormCtx;

void mlp_forward(const Mlp *m, int B, const float *x, float **h);
int mlp_width(const Mlp *m);
void rl_ppo_act(PPOCtx *c, const float *obs, int N, const float *draws, float *ws, void *action, float *logp,
                float *value, float *env_action, const float *low, const float *high);
int rl_env_ready(const EnvCtx *e);
int rl_env_step(EnvCtx *e, const void *action, float *obs, float *next_obs, float *reward, uint8_t *term,
                uint8_t *trunc);
void rl_norm_step(NormCtx *z, int n, const float *obs, const float *next_obs, float *obs_out, float *next_out);

#endif
