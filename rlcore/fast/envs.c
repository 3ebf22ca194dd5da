/* Classic-control tasks stepped in C, and observation normalisation.
 *
 * The same dynamics as rlcore/envs/torch_native (which reproduce Gymnasium 1.4), operation
 * for operation and in the same precisions, for batches on CPU: a step is one call instead
 * of a few dozen tensor operations. tests/rlcore/envs/test_torch_envs.py checks both against
 * Gymnasium, and this path against the tensor path.
 */
#include "kernels.h"

#define PI 3.14159265358979323846

enum { CARTPOLE = 1, PENDULUM = 2, MOUNTAIN_CAR = 3 };

/* torch.remainder / numpy % for doubles: the result takes the sign of the divisor. */
static double floor_mod(double x, double y) {
    double m = fmod(x, y);
    if (m != 0.0 && ((y < 0.0) != (m < 0.0))) m += y;
    return m;
}

static double clampd(double x, double lo, double hi) { return x < lo ? lo : (x > hi ? hi : x); }

/* One transition of row i: s (state_dim doubles) becomes the next state; returns terminated. */
static int transition(const EnvCtx *e, int i, const void *action, double *s, float *reward) {
    switch (e->kind) {
    case CARTPOLE: {
        const double gravity = 9.8, mass_pole = 0.1, total_mass = 1.1, half_length = 0.5, pml = 0.05, tau = 0.02;
        double force = ((const int64_t *)action)[i] == 1 ? 10.0 : -10.0;
        double x = s[0], x_dot = s[1], th = s[2], th_dot = s[3];
        double ct = cos(th), st = sin(th);
        double temp = (force + pml * (th_dot * th_dot) * st) / total_mass;
        double thacc = (gravity * st - ct * temp) / (half_length * (4.0 / 3.0 - mass_pole * (ct * ct) / total_mass));
        double xacc = temp - pml * thacc * ct / total_mass;
        s[0] = x + tau * x_dot;
        s[1] = x_dot + tau * xacc;
        s[2] = th + tau * th_dot;
        s[3] = th_dot + tau * thacc;
        *reward = 1.f;
        return fabs(s[0]) > 2.4 || fabs(s[2]) > 12 * 2 * PI / 360;
    }
    case PENDULUM: {
        float u = ((const float *)action)[(size_t)i * e->act_dim];
        u = u < -2.f ? -2.f : (u > 2.f ? 2.f : u);
        double u_cost = (double)((u * u) * 0.001f), u_acc = (double)(u * 3.0f);
        double th = s[0], thdot = s[1];
        double norm_th = floor_mod(th + PI, 2 * PI) - PI;
        double costs = (norm_th * norm_th) + 0.1 * (thdot * thdot) + u_cost;
        double newthdot = clampd(thdot + (15.0 * sin(th) + u_acc) * 0.05, -8.0, 8.0);
        s[0] = th + newthdot * 0.05;
        s[1] = newthdot;
        *reward = (float)(-costs);
        return 0;
    }
    case MOUNTAIN_CAR: {
        double push = (double)(((const int64_t *)action)[i] - 1) * 0.001;
        double velocity = clampd(s[1] + (push + cos(3 * s[0]) * -0.0025), -0.07, 0.07);
        double position = clampd(s[0] + velocity, -1.2, 0.6);
        if (position == -1.2 && velocity < 0) velocity = 0.0;
        s[0] = position;
        s[1] = velocity;
        *reward = -1.f;
        return position >= 0.5 && velocity >= 0;
    }
    }
    return 0;
}

static void observe(const EnvCtx *e, const double *s, float *obs) {
    if (e->kind == PENDULUM) {
        obs[0] = (float)cos(s[0]);
        obs[1] = (float)sin(s[0]);
        obs[2] = (float)s[1];
    } else {
        for (int c = 0; c < e->state_dim; c++) obs[c] = (float)s[c];
    }
}

/* Whether a step can run now: resets need uniforms from the pool and records need room. */
int rl_env_ready(const EnvCtx *e) {
    return e->pool_size - e->pool_pos >= (int64_t)e->n * e->state_dim && e->rec_cap - e->rec_n >= e->n;
}

/* Step every env with action (int64 [n] for Discrete, float [n, act_dim] for Box), Gymnasium's
 * TimeLimit and same-step autoreset included. Writes the observation after autoreset, the
 * final observation of the step, rewards and flags; returns the number of finished episodes,
 * or -1 (and changes nothing) when rl_env_ready is false. */
int rl_env_step(EnvCtx *e, const void *action, float *obs, float *next_obs, float *reward, uint8_t *term,
                uint8_t *trunc) {
    if (!rl_env_ready(e)) return -1;
    int n = e->n, sd = e->state_dim, od = e->obs_dim, finished = 0;
    double s[8];
    for (int i = 0; i < n; i++) {
        for (int c = 0; c < sd; c++) s[c] = e->state[(size_t)c * n + i];
        float r;
        int t = transition(e, i, action, s, &r);
        float *nx = next_obs + (size_t)i * od, *ob = obs + (size_t)i * od;
        observe(e, s, nx);
        int64_t elapsed = ++e->elapsed[i];
        int tr = elapsed >= e->max_steps;
        e->ep_return[i] += r;
        reward[i] = r;
        term[i] = (uint8_t)t;
        trunc[i] = (uint8_t)tr;
        if (t || tr) {
            e->rec_return[e->rec_n] = e->ep_return[i];
            e->rec_length[e->rec_n] = elapsed;
            e->rec_n++;
            e->elapsed[i] = 0;
            e->ep_return[i] = 0.0;
            const double *u = e->pool + e->pool_pos;
            e->pool_pos += sd;
            for (int c = 0; c < sd; c++) s[c] = u[c] * e->span[c] + e->low[c];
            observe(e, s, ob);
            finished++;
        } else {
            memcpy(ob, nx, sizeof(float) * od);
        }
        for (int c = 0; c < sd; c++) e->state[(size_t)c * n + i] = s[c];
    }
    return finished;
}

/* NormalizeObservation's step: with z->update, merge the batch statistics of next_obs ([n,
 * dim]) into the running mean and variance (parallel Welford, as RunningMeanStd.update);
 * then standardise and clip obs into obs_out and, when next_out is given, next_obs into it. */
void rl_norm_step(NormCtx *z, int n, const float *obs, const float *next_obs, float *obs_out, float *next_out) {
    int d = z->dim;
    if (z->update) {
        double total = z->count + n;
        for (int j = 0; j < d; j++) {
            double bm = 0.0, bv = 0.0;
            for (int i = 0; i < n; i++) bm += next_obs[(size_t)i * d + j];
            bm /= n;
            for (int i = 0; i < n; i++) {
                double x = next_obs[(size_t)i * d + j] - bm;
                bv += x * x;
            }
            bv /= n;
            double delta = bm - z->mean[j];
            double m2 = z->var[j] * z->count + bv * n + delta * delta * (z->count * n / total);
            z->mean[j] += delta * (n / total);
            z->var[j] = m2 / total;
        }
        z->count = total;
    }
    for (int j = 0; j < d; j++) {
        double mean = z->mean[j], scale = sqrt(z->var[j] + z->eps);
        for (int i = 0; i < n; i++) {
            size_t k = (size_t)i * d + j;
            obs_out[k] = (float)clampd((obs[k] - mean) / scale, -z->clip, z->clip);
            if (next_out) next_out[k] = (float)clampd((next_obs[k] - mean) / scale, -z->clip, z->clip);
        }
    }
}
