/*
 * nnapi_test_double.c -- a TEST DOUBLE of Android's NNAPI C API (libneuralnetworks.so).
 *
 * This is NOT NNAPI and runs no model by itself. It exists so that edgelite's NNAPI
 * delegate can be tested on machines without Android:
 *   - it exports the ANeuralNetworks* entry points the delegate uses, with the ABI of
 *     NeuralNetworks.h (enum values, struct layouts, result codes);
 *   - it records the model and enforces the API's rules: objects used in order (a model
 *     is finished before it is compiled, a compilation before it executes, nothing is
 *     modified after finish), operand types valid, values of the declared size, values
 *     of <= 128 bytes copied and longer ones referenced (the double remembers a checksum
 *     and fails the execution if a referenced buffer changed), an execution computed at
 *     most once, every object freed once;
 *   - at compute time it calls an evaluator registered from Python (tests/delegates/
 *     nnapi_semantics.py, written from the NNAPI operation documentation) that reads the
 *     recorded model through the nnapi_double_* introspection functions below;
 *   - it can be told to fail the n-th call of any entry point with a given code.
 *
 * DOUBLE_FEATURE_LEVEL (compile time) selects which entry points exist: 27 gives the
 * Android 8.1 API (no compute, no devices, no per-channel quantization), 29 adds those,
 * 31 adds ANeuralNetworks_getRuntimeFeatureLevel.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef DOUBLE_FEATURE_LEVEL
#define DOUBLE_FEATURE_LEVEL 31
#endif

#define EXPORT __attribute__((visibility("default")))

enum {
  NO_ERROR = 0, OUT_OF_MEMORY = 1, UNEXPECTED_NULL = 3, BAD_DATA = 4, OP_FAILED = 5, BAD_STATE = 6,
};
enum {
  T_FLOAT32 = 0, T_INT32 = 1, T_UINT32 = 2, T_TENSOR_FLOAT32 = 3, T_TENSOR_INT32 = 4,
  T_TENSOR_QUANT8_ASYMM = 5, T_BOOL = 6, T_TENSOR_QUANT16_SYMM = 7, T_TENSOR_FLOAT16 = 8,
  T_TENSOR_BOOL8 = 9, T_FLOAT16 = 10, T_TENSOR_QUANT8_SYMM_PER_CHANNEL = 11,
  T_TENSOR_QUANT16_ASYMM = 12, T_TENSOR_QUANT8_SYMM = 13, T_TENSOR_QUANT8_ASYMM_SIGNED = 14,
};
#define MAX_COPIED 128
#define MAX_RANK 8

typedef struct {
  int32_t type;
  uint32_t dimensionCount;
  const uint32_t *dimensions;
  float scale;
  int32_t zeroPoint;
} ANeuralNetworksOperandType;

typedef struct {
  uint32_t channelDim;
  uint32_t scaleCount;
  const float *scales;
} ANeuralNetworksSymmPerChannelQuantParams;

/* Lifetimes reported to the evaluator. */
enum { LT_TEMPORARY = 0, LT_COPIED = 1, LT_REFERENCED = 2, LT_NO_VALUE = 3, LT_INPUT = 4, LT_OUTPUT = 5 };

typedef struct {
  int32_t type;
  uint32_t rank;
  uint32_t dims[MAX_RANK];
  float scale;
  int32_t zp;
  int lifetime;
  void *copy;
  const void *ref;
  size_t length;
  uint64_t checksum;
  int has_channel;
  uint32_t channel_dim;
  uint32_t scale_count;
  float *scales;
} Operand;

typedef struct {
  int32_t type;
  uint32_t nin, nout;
  uint32_t *in, *out;
} Operation;

#define MAGIC_MODEL 0x4d4f444cu
#define MAGIC_COMP 0x434f4d50u
#define MAGIC_EXEC 0x45584543u
#define MAGIC_EVENT 0x45564e54u
#define MAGIC_DEAD 0xdeadbeefu

typedef struct ANeuralNetworksModel {
  uint32_t magic;
  int finished, identified, relaxed;
  Operand *operands;
  uint32_t noperands, cap;
  Operation *ops;
  uint32_t nops, opcap;
  uint32_t nin, nout;
  uint32_t *inputs, *outputs;
} ANeuralNetworksModel;

typedef struct ANeuralNetworksDevice {
  const char *name;
  int32_t type;
  uint8_t unsupported[256]; /* operation codes this device refuses (tests set them) */
} ANeuralNetworksDevice;

typedef struct ANeuralNetworksCompilation {
  uint32_t magic;
  ANeuralNetworksModel *model;
  int finished, preference;
  uint32_t ndevices;
  ANeuralNetworksDevice *devices[4];
} ANeuralNetworksCompilation;

typedef struct ANeuralNetworksExecution {
  uint32_t magic;
  ANeuralNetworksCompilation *comp;
  void **in_buf, **out_buf;
  size_t *in_len, *out_len;
  int started;
} ANeuralNetworksExecution;

typedef struct ANeuralNetworksEvent {
  uint32_t magic;
  int status;
} ANeuralNetworksEvent;

/* ---- test controls ---------------------------------------------------------------- */

typedef int (*evaluator_fn)(ANeuralNetworksExecution *execution);
typedef int (*validator_fn)(ANeuralNetworksModel *model);
static evaluator_fn g_evaluator;
static validator_fn g_validator;
static char g_last_error[512];
static int g_misuse;
static long g_live[4]; /* models, compilations, executions, events */

static ANeuralNetworksDevice g_devices[2] = {
    {"nnapi-reference", 2, {0}},
    {"edgelite-test-double-npu", 4, {0}},
};

#define MAX_CALLS 48
static struct { const char *name; long count; long fail_at; int code; } g_calls[MAX_CALLS];

static int misuse(const char *what, const char *fn) {
  g_misuse++;
  snprintf(g_last_error, sizeof g_last_error, "%s: %s", fn, what);
  return BAD_STATE;
}

/* Counts the call and returns the injected failure code, or 0. */
static int enter(const char *name) {
  for (int i = 0; i < MAX_CALLS; i++) {
    if (g_calls[i].name == NULL) {
      g_calls[i].name = name;
    }
    if (strcmp(g_calls[i].name, name) == 0) {
      g_calls[i].count++;
      if (g_calls[i].fail_at > 0 && g_calls[i].count == g_calls[i].fail_at) {
        snprintf(g_last_error, sizeof g_last_error, "%s: failure injected by the test", name);
        return g_calls[i].code;
      }
      return 0;
    }
  }
  return 0;
}

#define ENTER(name)                 \
  do {                              \
    int injected_ = enter(name);    \
    if (injected_) return injected_; \
  } while (0)

#define FAIL(code, ...)                                               \
  do {                                                                \
    snprintf(g_last_error, sizeof g_last_error, __VA_ARGS__);         \
    return code;                                                      \
  } while (0)

EXPORT void nnapi_double_reset(void) {
  memset(g_calls, 0, sizeof g_calls);
  g_misuse = 0;
  g_last_error[0] = 0;
  for (int d = 0; d < 2; d++) memset(g_devices[d].unsupported, 0, sizeof g_devices[d].unsupported);
}
EXPORT void nnapi_double_set_evaluator(evaluator_fn fn) { g_evaluator = fn; }
EXPORT void nnapi_double_set_validator(validator_fn fn) { g_validator = fn; }
EXPORT const char *nnapi_double_last_error(void) { return g_last_error; }
EXPORT int nnapi_double_misuse_count(void) { return g_misuse; }
EXPORT long nnapi_double_live(int kind) { return (kind >= 0 && kind < 4) ? g_live[kind] : -1; }
EXPORT int nnapi_double_feature_level(void) { return DOUBLE_FEATURE_LEVEL; }

/* Make the n-th call (counting from now, 1 = the next) of `name` return `code`. */
EXPORT int nnapi_double_fail_call(const char *name, long nth, int code) {
  static char names[MAX_CALLS][96];
  for (int i = 0; i < MAX_CALLS; i++) {
    if (g_calls[i].name == NULL) {
      snprintf(names[i], sizeof names[i], "%s", name);
      g_calls[i].name = names[i];
    }
    if (strcmp(g_calls[i].name, name) == 0) {
      g_calls[i].fail_at = g_calls[i].count + nth;
      g_calls[i].code = code;
      return 0;
    }
  }
  return -1;
}

EXPORT long nnapi_double_call_count(const char *name) {
  for (int i = 0; i < MAX_CALLS && g_calls[i].name; i++)
    if (strcmp(g_calls[i].name, name) == 0) return g_calls[i].count;
  return 0;
}

EXPORT void nnapi_double_set_device_unsupported(int device, int operation, int unsupported) {
  if (device >= 0 && device < 2 && operation >= 0 && operation < 256)
    g_devices[device].unsupported[operation] = (uint8_t)(unsupported != 0);
}

/* ---- introspection for the evaluator ---------------------------------------------- */

EXPORT uint32_t nnapi_double_operand_count(ANeuralNetworksModel *m) { return m->noperands; }

EXPORT int nnapi_double_operand(ANeuralNetworksModel *m, uint32_t i, int32_t *type, uint32_t *rank,
                                const uint32_t **dims, float *scale, int32_t *zp, const void **value,
                                size_t *length) {
  if (i >= m->noperands) return -1;
  Operand *o = &m->operands[i];
  *type = o->type;
  *rank = o->rank;
  *dims = o->dims;
  *scale = o->scale;
  *zp = o->zp;
  *value = o->lifetime == LT_COPIED ? o->copy : o->lifetime == LT_REFERENCED ? o->ref : NULL;
  *length = o->length;
  return o->lifetime;
}

EXPORT int nnapi_double_channel_quant(ANeuralNetworksModel *m, uint32_t i, uint32_t *dim, uint32_t *count,
                                      const float **scales) {
  if (i >= m->noperands || !m->operands[i].has_channel) return 0;
  *dim = m->operands[i].channel_dim;
  *count = m->operands[i].scale_count;
  *scales = m->operands[i].scales;
  return 1;
}

EXPORT uint32_t nnapi_double_operation_count(ANeuralNetworksModel *m) { return m->nops; }

EXPORT int nnapi_double_operation(ANeuralNetworksModel *m, uint32_t i, int32_t *type, uint32_t *nin,
                                  const uint32_t **in, uint32_t *nout, const uint32_t **out) {
  if (i >= m->nops) return -1;
  *type = m->ops[i].type;
  *nin = m->ops[i].nin;
  *in = m->ops[i].in;
  *nout = m->ops[i].nout;
  *out = m->ops[i].out;
  return 0;
}

EXPORT void nnapi_double_model_io(ANeuralNetworksModel *m, uint32_t *nin, const uint32_t **in, uint32_t *nout,
                                  const uint32_t **out) {
  *nin = m->nin;
  *in = m->inputs;
  *nout = m->nout;
  *out = m->outputs;
}

EXPORT int nnapi_double_model_relaxed(ANeuralNetworksModel *m) { return m->relaxed; }
EXPORT ANeuralNetworksModel *nnapi_double_execution_model(ANeuralNetworksExecution *e) { return e->comp->model; }
EXPORT int nnapi_double_execution_preference(ANeuralNetworksExecution *e) { return e->comp->preference; }

EXPORT const char *nnapi_double_execution_devices(ANeuralNetworksExecution *e) {
  static char buf[256];
  buf[0] = 0;
  for (uint32_t d = 0; d < e->comp->ndevices; d++) {
    strncat(buf, e->comp->devices[d]->name, sizeof buf - strlen(buf) - 2);
    strncat(buf, ",", sizeof buf - strlen(buf) - 1);
  }
  return buf;
}

EXPORT void *nnapi_double_execution_buffer(ANeuralNetworksExecution *e, int output, uint32_t i, size_t *len) {
  *len = output ? e->out_len[i] : e->in_len[i];
  return output ? e->out_buf[i] : e->in_buf[i];
}

/* ---- helpers ------------------------------------------------------------------------ */

static int is_scalar(int32_t t) {
  return t == T_FLOAT32 || t == T_INT32 || t == T_UINT32 || t == T_BOOL || t == T_FLOAT16;
}

static size_t element_size(int32_t t) {
  switch (t) {
    case T_FLOAT32: case T_INT32: case T_UINT32: case T_TENSOR_FLOAT32: case T_TENSOR_INT32: return 4;
    case T_FLOAT16: case T_TENSOR_FLOAT16: case T_TENSOR_QUANT16_SYMM: case T_TENSOR_QUANT16_ASYMM: return 2;
    case T_BOOL: case T_TENSOR_BOOL8: case T_TENSOR_QUANT8_ASYMM: case T_TENSOR_QUANT8_SYMM:
    case T_TENSOR_QUANT8_SYMM_PER_CHANNEL: case T_TENSOR_QUANT8_ASYMM_SIGNED: return 1;
    default: return 0;
  }
}

static size_t operand_bytes(const Operand *o) {
  size_t n = element_size(o->type);
  for (uint32_t d = 0; d < o->rank; d++) n *= o->dims[d];
  return n;
}

static uint64_t checksum(const void *p, size_t n) {
  const unsigned char *b = p;
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
  return h;
}

static int check_type(const ANeuralNetworksOperandType *t, const char *fn) {
  if (element_size(t->type) == 0) FAIL(BAD_DATA, "%s: unknown operand type %d", fn, t->type);
  if (is_scalar(t->type)) {
    if (t->dimensionCount != 0 || t->dimensions != NULL)
      FAIL(BAD_DATA, "%s: a scalar (type %d) must have dimensionCount 0 and dimensions NULL", fn, t->type);
  } else {
    if (t->dimensionCount > MAX_RANK) FAIL(BAD_DATA, "%s: rank %u above the double's limit", fn, t->dimensionCount);
    if (t->dimensionCount && !t->dimensions) FAIL(UNEXPECTED_NULL, "%s: dimensions is NULL", fn);
    for (uint32_t d = 0; d < t->dimensionCount; d++)
      if (t->dimensions[d] == 0)
        FAIL(BAD_DATA, "%s: dimension %u is 0 (the test double needs fully specified shapes)", fn, d);
  }
  switch (t->type) {
    case T_FLOAT32: case T_FLOAT16: case T_TENSOR_FLOAT32: case T_TENSOR_FLOAT16: case T_INT32: case T_UINT32:
    case T_BOOL: case T_TENSOR_BOOL8:
      if (t->scale != 0.0f || t->zeroPoint != 0)
        FAIL(BAD_DATA, "%s: type %d must have scale 0 and zeroPoint 0", fn, t->type);
      break;
    case T_TENSOR_INT32:
      if (t->zeroPoint != 0 || t->scale < 0.0f) FAIL(BAD_DATA, "%s: TENSOR_INT32 needs zeroPoint 0, scale >= 0", fn);
      break;
    case T_TENSOR_QUANT8_ASYMM:
      if (!(t->scale > 0.0f) || t->zeroPoint < 0 || t->zeroPoint > 255)
        FAIL(BAD_DATA, "%s: TENSOR_QUANT8_ASYMM needs scale > 0, zeroPoint in [0, 255] (got %g, %d)", fn,
             t->scale, t->zeroPoint);
      break;
    case T_TENSOR_QUANT8_ASYMM_SIGNED:
      if (!(t->scale > 0.0f) || t->zeroPoint < -128 || t->zeroPoint > 127)
        FAIL(BAD_DATA, "%s: TENSOR_QUANT8_ASYMM_SIGNED needs scale > 0, zeroPoint in [-128, 127] (got %g, %d)",
             fn, t->scale, t->zeroPoint);
      break;
    case T_TENSOR_QUANT8_SYMM_PER_CHANNEL:
      if (t->scale != 0.0f || t->zeroPoint != 0)
        FAIL(BAD_DATA, "%s: TENSOR_QUANT8_SYMM_PER_CHANNEL needs scale 0 and zeroPoint 0", fn);
      break;
    default:
      if (!(t->scale > 0.0f)) FAIL(BAD_DATA, "%s: quantized type %d needs scale > 0", fn, t->type);
  }
  return NO_ERROR;
}

static int bad_model(ANeuralNetworksModel *m, const char *fn) {
  if (!m) FAIL(UNEXPECTED_NULL, "%s: model is NULL", fn);
  if (m->magic != MAGIC_MODEL) return misuse("model freed or not a model", fn);
  if (m->finished) FAIL(BAD_STATE, "%s: the model is already finished", fn);
  return NO_ERROR;
}

/* ---- model ---------------------------------------------------------------------------- */

EXPORT int ANeuralNetworksModel_create(ANeuralNetworksModel **model) {
  ENTER("ANeuralNetworksModel_create");
  if (!model) FAIL(UNEXPECTED_NULL, "ANeuralNetworksModel_create: NULL");
  ANeuralNetworksModel *m = calloc(1, sizeof *m);
  if (!m) return OUT_OF_MEMORY;
  m->magic = MAGIC_MODEL;
  *model = m;
  g_live[0]++;
  return NO_ERROR;
}

EXPORT void ANeuralNetworksModel_free(ANeuralNetworksModel *m) {
  enter("ANeuralNetworksModel_free");
  if (!m) return;
  if (m->magic != MAGIC_MODEL) {
    misuse("double free or not a model", "ANeuralNetworksModel_free");
    return;
  }
  for (uint32_t i = 0; i < m->noperands; i++) {
    free(m->operands[i].copy);
    free(m->operands[i].scales);
  }
  for (uint32_t i = 0; i < m->nops; i++) {
    free(m->ops[i].in);
    free(m->ops[i].out);
  }
  free(m->operands);
  free(m->ops);
  free(m->inputs);
  free(m->outputs);
  /* Kept, not released, so that a later use is detected rather than undefined. */
  m->magic = MAGIC_DEAD;
  m->operands = NULL;
  m->ops = NULL;
  m->noperands = m->nops = 0;
  g_live[0]--;
}

EXPORT int ANeuralNetworksModel_addOperand(ANeuralNetworksModel *m, const ANeuralNetworksOperandType *type) {
  ENTER("ANeuralNetworksModel_addOperand");
  int rc = bad_model(m, "ANeuralNetworksModel_addOperand");
  if (rc) return rc;
  if (!type) FAIL(UNEXPECTED_NULL, "ANeuralNetworksModel_addOperand: type is NULL");
  rc = check_type(type, "ANeuralNetworksModel_addOperand");
  if (rc) return rc;
  if (m->noperands == m->cap) {
    m->cap = m->cap ? m->cap * 2 : 64;
    m->operands = realloc(m->operands, m->cap * sizeof(Operand));
  }
  Operand *o = &m->operands[m->noperands++];
  memset(o, 0, sizeof *o);
  o->type = type->type;
  o->rank = type->dimensionCount;
  for (uint32_t d = 0; d < o->rank; d++) o->dims[d] = type->dimensions[d];
  o->scale = type->scale;
  o->zp = type->zeroPoint;
  o->lifetime = LT_TEMPORARY;
  return NO_ERROR;
}

EXPORT int ANeuralNetworksModel_setOperandValue(ANeuralNetworksModel *m, int32_t index, const void *buffer,
                                                size_t length) {
  ENTER("ANeuralNetworksModel_setOperandValue");
  int rc = bad_model(m, "ANeuralNetworksModel_setOperandValue");
  if (rc) return rc;
  if (index < 0 || (uint32_t)index >= m->noperands)
    FAIL(BAD_DATA, "ANeuralNetworksModel_setOperandValue: operand %d out of range", index);
  Operand *o = &m->operands[index];
  if (buffer == NULL) {
    if (length != 0) FAIL(UNEXPECTED_NULL, "ANeuralNetworksModel_setOperandValue: NULL buffer, length %zu", length);
    o->lifetime = LT_NO_VALUE;
    return NO_ERROR;
  }
  if (length != operand_bytes(o))
    FAIL(BAD_DATA, "ANeuralNetworksModel_setOperandValue: operand %d needs %zu bytes, got %zu", index,
         operand_bytes(o), length);
  free(o->copy);
  o->copy = NULL;
  o->length = length;
  if (length <= MAX_COPIED) {
    o->copy = malloc(length ? length : 1);
    memcpy(o->copy, buffer, length);
    o->lifetime = LT_COPIED;
  } else {
    o->ref = buffer;
    o->checksum = checksum(buffer, length);
    o->lifetime = LT_REFERENCED;
  }
  return NO_ERROR;
}

#if DOUBLE_FEATURE_LEVEL >= 29
EXPORT int ANeuralNetworksModel_setOperandSymmPerChannelQuantParams(
    ANeuralNetworksModel *m, int32_t index, const ANeuralNetworksSymmPerChannelQuantParams *p) {
  ENTER("ANeuralNetworksModel_setOperandSymmPerChannelQuantParams");
  const char *fn = "ANeuralNetworksModel_setOperandSymmPerChannelQuantParams";
  int rc = bad_model(m, fn);
  if (rc) return rc;
  if (!p) FAIL(UNEXPECTED_NULL, "%s: params NULL", fn);
  if (index < 0 || (uint32_t)index >= m->noperands) FAIL(BAD_DATA, "%s: operand %d out of range", fn, index);
  Operand *o = &m->operands[index];
  if (o->type != T_TENSOR_QUANT8_SYMM_PER_CHANNEL)
    FAIL(BAD_DATA, "%s: operand %d is type %d, not TENSOR_QUANT8_SYMM_PER_CHANNEL", fn, index, o->type);
  if (p->channelDim >= o->rank) FAIL(BAD_DATA, "%s: channelDim %u >= rank %u", fn, p->channelDim, o->rank);
  if (p->scaleCount != o->dims[p->channelDim])
    FAIL(BAD_DATA, "%s: scaleCount %u != dimension %u of operand %d", fn, p->scaleCount, o->dims[p->channelDim],
         index);
  if (!p->scales) FAIL(UNEXPECTED_NULL, "%s: scales NULL", fn);
  for (uint32_t c = 0; c < p->scaleCount; c++)
    if (!(p->scales[c] > 0.0f)) FAIL(BAD_DATA, "%s: scale %u is not > 0", fn, c);
  free(o->scales);
  o->scales = malloc(p->scaleCount * sizeof(float));
  memcpy(o->scales, p->scales, p->scaleCount * sizeof(float));
  o->has_channel = 1;
  o->channel_dim = p->channelDim;
  o->scale_count = p->scaleCount;
  return NO_ERROR;
}
#endif

EXPORT int ANeuralNetworksModel_addOperation(ANeuralNetworksModel *m, int32_t type, uint32_t nin,
                                             const uint32_t *in, uint32_t nout, const uint32_t *out) {
  ENTER("ANeuralNetworksModel_addOperation");
  const char *fn = "ANeuralNetworksModel_addOperation";
  int rc = bad_model(m, fn);
  if (rc) return rc;
  if ((nin && !in) || (nout && !out)) FAIL(UNEXPECTED_NULL, "%s: NULL index list", fn);
  if (nout == 0) FAIL(BAD_DATA, "%s: operation %d has no outputs", fn, type);
  for (uint32_t k = 0; k < nin; k++)
    if (in[k] >= m->noperands) FAIL(BAD_DATA, "%s: input %u refers to operand %u, out of range", fn, k, in[k]);
  for (uint32_t k = 0; k < nout; k++)
    if (out[k] >= m->noperands) FAIL(BAD_DATA, "%s: output %u refers to operand %u, out of range", fn, k, out[k]);
  if (m->nops == m->opcap) {
    m->opcap = m->opcap ? m->opcap * 2 : 32;
    m->ops = realloc(m->ops, m->opcap * sizeof(Operation));
  }
  Operation *op = &m->ops[m->nops++];
  op->type = type;
  op->nin = nin;
  op->nout = nout;
  op->in = malloc((nin ? nin : 1) * sizeof(uint32_t));
  op->out = malloc(nout * sizeof(uint32_t));
  memcpy(op->in, in, nin * sizeof(uint32_t));
  memcpy(op->out, out, nout * sizeof(uint32_t));
  return NO_ERROR;
}

EXPORT int ANeuralNetworksModel_identifyInputsAndOutputs(ANeuralNetworksModel *m, uint32_t nin, const uint32_t *in,
                                                         uint32_t nout, const uint32_t *out) {
  ENTER("ANeuralNetworksModel_identifyInputsAndOutputs");
  const char *fn = "ANeuralNetworksModel_identifyInputsAndOutputs";
  int rc = bad_model(m, fn);
  if (rc) return rc;
  for (uint32_t k = 0; k < nin + nout; k++) {
    uint32_t i = k < nin ? in[k] : out[k - nin];
    if (i >= m->noperands) FAIL(BAD_DATA, "%s: operand %u out of range", fn, i);
    int lt = m->operands[i].lifetime;
    if (lt != LT_TEMPORARY)
      FAIL(BAD_DATA, "%s: operand %u has a value (or is already an input/output); it cannot be one", fn, i);
    m->operands[i].lifetime = k < nin ? LT_INPUT : LT_OUTPUT;
  }
  free(m->inputs);
  free(m->outputs);
  m->inputs = malloc((nin ? nin : 1) * sizeof(uint32_t));
  m->outputs = malloc((nout ? nout : 1) * sizeof(uint32_t));
  memcpy(m->inputs, in, nin * sizeof(uint32_t));
  memcpy(m->outputs, out, nout * sizeof(uint32_t));
  m->nin = nin;
  m->nout = nout;
  m->identified = 1;
  return NO_ERROR;
}

#if DOUBLE_FEATURE_LEVEL >= 28
EXPORT int ANeuralNetworksModel_relaxComputationFloat32toFloat16(ANeuralNetworksModel *m, bool allow) {
  ENTER("ANeuralNetworksModel_relaxComputationFloat32toFloat16");
  int rc = bad_model(m, "ANeuralNetworksModel_relaxComputationFloat32toFloat16");
  if (rc) return rc;
  m->relaxed = allow;
  return NO_ERROR;
}
#endif

EXPORT int ANeuralNetworksModel_finish(ANeuralNetworksModel *m) {
  ENTER("ANeuralNetworksModel_finish");
  const char *fn = "ANeuralNetworksModel_finish";
  int rc = bad_model(m, fn);
  if (rc) return rc;
  if (!m->identified || m->nout == 0) FAIL(BAD_DATA, "%s: inputs and outputs were not identified", fn);
  /* Every operand an operation reads is a model input, a constant, an omitted optional
   * operand or written by exactly one operation; every model output is written. */
  uint8_t *written = calloc(m->noperands ? m->noperands : 1, 1);
  for (uint32_t k = 0; k < m->nops; k++)
    for (uint32_t j = 0; j < m->ops[k].nout; j++) {
      uint32_t o = m->ops[k].out[j];
      int lt = m->operands[o].lifetime;
      if (written[o] || lt == LT_INPUT || lt == LT_COPIED || lt == LT_REFERENCED || lt == LT_NO_VALUE) {
        free(written);
        FAIL(BAD_DATA, "%s: operand %u is written twice or is an input/constant", fn, o);
      }
      written[o] = 1;
    }
  for (uint32_t k = 0; k < m->nops; k++)
    for (uint32_t j = 0; j < m->ops[k].nin; j++) {
      uint32_t i = m->ops[k].in[j];
      int lt = m->operands[i].lifetime;
      if ((lt == LT_TEMPORARY || lt == LT_OUTPUT) && !written[i]) {
        free(written);
        FAIL(BAD_DATA, "%s: operation %u reads operand %u, which nothing writes", fn, k, i);
      }
    }
  for (uint32_t k = 0; k < m->nout; k++)
    if (!written[m->outputs[k]]) {
      free(written);
      FAIL(BAD_DATA, "%s: model output operand %u is never written", fn, m->outputs[k]);
    }
  free(written);
  for (uint32_t i = 0; i < m->noperands; i++)
    if (m->operands[i].type == T_TENSOR_QUANT8_SYMM_PER_CHANNEL && !m->operands[i].has_channel)
      FAIL(BAD_DATA, "%s: per-channel operand %u has no ANeuralNetworksSymmPerChannelQuantParams", fn, i);
  if (g_validator) {
    rc = g_validator(m);
    if (rc) return rc; /* the validator wrote g_last_error through nnapi_double_set_error */
  }
  m->finished = 1;
  return NO_ERROR;
}

EXPORT void nnapi_double_set_error(const char *msg) { snprintf(g_last_error, sizeof g_last_error, "%s", msg); }

#if DOUBLE_FEATURE_LEVEL >= 29
EXPORT int ANeuralNetworksModel_getSupportedOperationsForDevices(const ANeuralNetworksModel *m,
                                                                 const ANeuralNetworksDevice *const *devices,
                                                                 uint32_t n, bool *supported) {
  ENTER("ANeuralNetworksModel_getSupportedOperationsForDevices");
  const char *fn = "ANeuralNetworksModel_getSupportedOperationsForDevices";
  if (!m || !devices || !supported) FAIL(UNEXPECTED_NULL, "%s: NULL argument", fn);
  if (m->magic != MAGIC_MODEL) return misuse("model freed", fn);
  if (!m->finished) FAIL(BAD_STATE, "%s: the model is not finished", fn);
  if (n == 0) FAIL(BAD_DATA, "%s: no devices", fn);
  for (uint32_t k = 0; k < m->nops; k++) {
    int32_t t = m->ops[k].type;
    bool ok = false;
    for (uint32_t d = 0; d < n; d++) ok = ok || (t < 0 || t >= 256 || !devices[d]->unsupported[t]);
    supported[k] = ok;
  }
  return NO_ERROR;
}
#endif

/* ---- compilation -------------------------------------------------------------------- */

static int new_compilation(ANeuralNetworksModel *m, ANeuralNetworksCompilation **out, const char *fn) {
  if (!m || !out) FAIL(UNEXPECTED_NULL, "%s: NULL argument", fn);
  if (m->magic != MAGIC_MODEL) return misuse("model freed", fn);
  if (!m->finished) FAIL(BAD_STATE, "%s: the model is not finished (call ANeuralNetworksModel_finish first)", fn);
  ANeuralNetworksCompilation *c = calloc(1, sizeof *c);
  c->magic = MAGIC_COMP;
  c->model = m;
  c->preference = 1; /* FAST_SINGLE_ANSWER is the documented default */
  *out = c;
  g_live[1]++;
  return NO_ERROR;
}

EXPORT int ANeuralNetworksCompilation_create(ANeuralNetworksModel *m, ANeuralNetworksCompilation **out) {
  ENTER("ANeuralNetworksCompilation_create");
  int rc = new_compilation(m, out, "ANeuralNetworksCompilation_create");
  if (rc) return rc;
  (*out)->ndevices = 2;
  (*out)->devices[0] = &g_devices[0];
  (*out)->devices[1] = &g_devices[1];
  return NO_ERROR;
}

#if DOUBLE_FEATURE_LEVEL >= 29
EXPORT int ANeuralNetworksCompilation_createForDevices(ANeuralNetworksModel *m,
                                                       const ANeuralNetworksDevice *const *devices, uint32_t n,
                                                       ANeuralNetworksCompilation **out) {
  ENTER("ANeuralNetworksCompilation_createForDevices");
  const char *fn = "ANeuralNetworksCompilation_createForDevices";
  if (!devices) FAIL(UNEXPECTED_NULL, "%s: devices NULL", fn);
  if (n == 0 || n > 4) FAIL(BAD_DATA, "%s: %u devices", fn, n);
  for (uint32_t d = 0; d < n; d++)
    if (devices[d] != &g_devices[0] && devices[d] != &g_devices[1]) FAIL(BAD_DATA, "%s: unknown device", fn);
  int rc = new_compilation(m, out, fn);
  if (rc) return rc;
  (*out)->ndevices = n;
  for (uint32_t d = 0; d < n; d++) (*out)->devices[d] = (ANeuralNetworksDevice *)devices[d];
  return NO_ERROR;
}
#endif

static int bad_comp(ANeuralNetworksCompilation *c, const char *fn) {
  if (!c) FAIL(UNEXPECTED_NULL, "%s: compilation NULL", fn);
  if (c->magic != MAGIC_COMP) return misuse("compilation freed or not a compilation", fn);
  if (c->model->magic != MAGIC_MODEL) return misuse("the compilation's model was freed", fn);
  return NO_ERROR;
}

EXPORT int ANeuralNetworksCompilation_setPreference(ANeuralNetworksCompilation *c, int32_t preference) {
  ENTER("ANeuralNetworksCompilation_setPreference");
  const char *fn = "ANeuralNetworksCompilation_setPreference";
  int rc = bad_comp(c, fn);
  if (rc) return rc;
  if (c->finished) FAIL(BAD_STATE, "%s: the compilation is already finished", fn);
  if (preference < 0 || preference > 2) FAIL(BAD_DATA, "%s: preference %d", fn, preference);
  c->preference = preference;
  return NO_ERROR;
}

#if DOUBLE_FEATURE_LEVEL >= 30
EXPORT int ANeuralNetworksCompilation_setPriority(ANeuralNetworksCompilation *c, int priority) {
  ENTER("ANeuralNetworksCompilation_setPriority");
  const char *fn = "ANeuralNetworksCompilation_setPriority";
  int rc = bad_comp(c, fn);
  if (rc) return rc;
  if (c->finished) FAIL(BAD_STATE, "%s: the compilation is already finished", fn);
  if (priority != 90 && priority != 100 && priority != 110) FAIL(BAD_DATA, "%s: priority %d", fn, priority);
  return NO_ERROR;
}
#endif

EXPORT int ANeuralNetworksCompilation_finish(ANeuralNetworksCompilation *c) {
  ENTER("ANeuralNetworksCompilation_finish");
  const char *fn = "ANeuralNetworksCompilation_finish";
  int rc = bad_comp(c, fn);
  if (rc) return rc;
  if (c->finished) FAIL(BAD_STATE, "%s: the compilation is already finished", fn);
  /* Like the runtime with explicit devices: every operation must run on one of them. */
  ANeuralNetworksModel *m = c->model;
  for (uint32_t k = 0; k < m->nops; k++) {
    int32_t t = m->ops[k].type;
    int ok = 0;
    for (uint32_t d = 0; d < c->ndevices; d++) ok = ok || t < 0 || t >= 256 || !c->devices[d]->unsupported[t];
    if (!ok) FAIL(BAD_DATA, "%s: operation %u (type %d) is not supported by the selected devices", fn, k, t);
  }
  c->finished = 1;
  return NO_ERROR;
}

EXPORT void ANeuralNetworksCompilation_free(ANeuralNetworksCompilation *c) {
  enter("ANeuralNetworksCompilation_free");
  if (!c) return;
  if (c->magic != MAGIC_COMP) {
    misuse("double free or not a compilation", "ANeuralNetworksCompilation_free");
    return;
  }
  c->magic = MAGIC_DEAD;
  g_live[1]--;
}

/* ---- execution ---------------------------------------------------------------------- */

EXPORT int ANeuralNetworksExecution_create(ANeuralNetworksCompilation *c, ANeuralNetworksExecution **out) {
  ENTER("ANeuralNetworksExecution_create");
  const char *fn = "ANeuralNetworksExecution_create";
  int rc = bad_comp(c, fn);
  if (rc) return rc;
  if (!out) FAIL(UNEXPECTED_NULL, "%s: NULL", fn);
  if (!c->finished) FAIL(BAD_STATE, "%s: the compilation is not finished", fn);
  ANeuralNetworksExecution *e = calloc(1, sizeof *e);
  e->magic = MAGIC_EXEC;
  e->comp = c;
  uint32_t ni = c->model->nin ? c->model->nin : 1, no = c->model->nout ? c->model->nout : 1;
  e->in_buf = calloc(ni, sizeof(void *));
  e->in_len = calloc(ni, sizeof(size_t));
  e->out_buf = calloc(no, sizeof(void *));
  e->out_len = calloc(no, sizeof(size_t));
  *out = e;
  g_live[2]++;
  return NO_ERROR;
}

EXPORT void ANeuralNetworksExecution_free(ANeuralNetworksExecution *e) {
  enter("ANeuralNetworksExecution_free");
  if (!e) return;
  if (e->magic != MAGIC_EXEC) {
    misuse("double free or not an execution", "ANeuralNetworksExecution_free");
    return;
  }
  free(e->in_buf);
  free(e->in_len);
  free(e->out_buf);
  free(e->out_len);
  e->magic = MAGIC_DEAD;
  g_live[2]--;
}

static int set_io(ANeuralNetworksExecution *e, int output, int32_t index, const ANeuralNetworksOperandType *type,
                  void *buffer, size_t length, const char *fn) {
  if (!e) FAIL(UNEXPECTED_NULL, "%s: execution NULL", fn);
  if (e->magic != MAGIC_EXEC) return misuse("execution freed", fn);
  if (e->started) FAIL(BAD_STATE, "%s: the execution has already started", fn);
  ANeuralNetworksModel *m = e->comp->model;
  uint32_t n = output ? m->nout : m->nin;
  if (index < 0 || (uint32_t)index >= n) FAIL(BAD_DATA, "%s: index %d out of range [0, %u)", fn, index, n);
  Operand *o = &m->operands[output ? m->outputs[index] : m->inputs[index]];
  if (type) {
    int same = type->type == o->type && type->dimensionCount == o->rank;
    for (uint32_t d = 0; same && d < o->rank; d++) same = type->dimensions[d] == o->dims[d];
    if (!same) FAIL(BAD_DATA, "%s: the type given for index %d differs from the model's", fn, index);
  }
  if (!buffer) FAIL(UNEXPECTED_NULL, "%s: buffer NULL for index %d", fn, index);
  if (length != operand_bytes(o))
    FAIL(BAD_DATA, "%s: index %d needs %zu bytes, got %zu", fn, index, operand_bytes(o), length);
  if (output) {
    e->out_buf[index] = buffer;
    e->out_len[index] = length;
  } else {
    e->in_buf[index] = buffer;
    e->in_len[index] = length;
  }
  return NO_ERROR;
}

EXPORT int ANeuralNetworksExecution_setInput(ANeuralNetworksExecution *e, int32_t index,
                                             const ANeuralNetworksOperandType *type, const void *buffer,
                                             size_t length) {
  ENTER("ANeuralNetworksExecution_setInput");
  return set_io(e, 0, index, type, (void *)buffer, length, "ANeuralNetworksExecution_setInput");
}

EXPORT int ANeuralNetworksExecution_setOutput(ANeuralNetworksExecution *e, int32_t index,
                                              const ANeuralNetworksOperandType *type, void *buffer, size_t length) {
  ENTER("ANeuralNetworksExecution_setOutput");
  return set_io(e, 1, index, type, buffer, length, "ANeuralNetworksExecution_setOutput");
}

static int run(ANeuralNetworksExecution *e, const char *fn) {
  if (!e) FAIL(UNEXPECTED_NULL, "%s: execution NULL", fn);
  if (e->magic != MAGIC_EXEC) return misuse("execution freed", fn);
  if (e->comp->magic != MAGIC_COMP) return misuse("the execution's compilation was freed", fn);
  if (e->started) FAIL(BAD_STATE, "%s: an execution can be computed only once; create a new one", fn);
  ANeuralNetworksModel *m = e->comp->model;
  if (m->magic != MAGIC_MODEL) return misuse("the execution's model was freed", fn);
  for (uint32_t k = 0; k < m->nin; k++)
    if (!e->in_buf[k]) FAIL(BAD_DATA, "%s: input %u was not set", fn, k);
  for (uint32_t k = 0; k < m->nout; k++)
    if (!e->out_buf[k]) FAIL(BAD_DATA, "%s: output %u was not set", fn, k);
  for (uint32_t i = 0; i < m->noperands; i++) {
    Operand *o = &m->operands[i];
    if (o->lifetime == LT_REFERENCED && checksum(o->ref, o->length) != o->checksum) {
      g_misuse++;
      FAIL(OP_FAILED, "%s: operand %u's value (%zu bytes, referenced, not copied) changed after "
           "setOperandValue: the buffer must outlive the model unchanged", fn, i, o->length);
    }
  }
  e->started = 1;
  if (!g_evaluator) FAIL(OP_FAILED, "%s: no evaluator registered with the test double", fn);
  return g_evaluator(e);
}

#if DOUBLE_FEATURE_LEVEL >= 29
EXPORT int ANeuralNetworksExecution_compute(ANeuralNetworksExecution *e) {
  ENTER("ANeuralNetworksExecution_compute");
  return run(e, "ANeuralNetworksExecution_compute");
}
#endif

EXPORT int ANeuralNetworksExecution_startCompute(ANeuralNetworksExecution *e, ANeuralNetworksEvent **event) {
  ENTER("ANeuralNetworksExecution_startCompute");
  if (!event) FAIL(UNEXPECTED_NULL, "ANeuralNetworksExecution_startCompute: event NULL");
  int status = run(e, "ANeuralNetworksExecution_startCompute");
  if (status == BAD_STATE || status == UNEXPECTED_NULL) return status;
  ANeuralNetworksEvent *ev = calloc(1, sizeof *ev);
  ev->magic = MAGIC_EVENT;
  ev->status = status; /* computed synchronously; reported by Event_wait */
  *event = ev;
  g_live[3]++;
  return NO_ERROR;
}

EXPORT int ANeuralNetworksEvent_wait(ANeuralNetworksEvent *ev) {
  ENTER("ANeuralNetworksEvent_wait");
  if (!ev) FAIL(UNEXPECTED_NULL, "ANeuralNetworksEvent_wait: NULL");
  if (ev->magic != MAGIC_EVENT) return misuse("event freed", "ANeuralNetworksEvent_wait");
  return ev->status;
}

EXPORT void ANeuralNetworksEvent_free(ANeuralNetworksEvent *ev) {
  enter("ANeuralNetworksEvent_free");
  if (!ev) return;
  if (ev->magic != MAGIC_EVENT) {
    misuse("double free or not an event", "ANeuralNetworksEvent_free");
    return;
  }
  ev->magic = MAGIC_DEAD;
  g_live[3]--;
}

/* ---- devices ------------------------------------------------------------------------ */

#if DOUBLE_FEATURE_LEVEL >= 29
EXPORT int ANeuralNetworks_getDeviceCount(uint32_t *n) {
  ENTER("ANeuralNetworks_getDeviceCount");
  if (!n) FAIL(UNEXPECTED_NULL, "ANeuralNetworks_getDeviceCount: NULL");
  *n = 2;
  return NO_ERROR;
}

EXPORT int ANeuralNetworks_getDevice(uint32_t i, ANeuralNetworksDevice **d) {
  ENTER("ANeuralNetworks_getDevice");
  if (!d) FAIL(UNEXPECTED_NULL, "ANeuralNetworks_getDevice: NULL");
  if (i >= 2) FAIL(BAD_DATA, "ANeuralNetworks_getDevice: index %u", i);
  *d = &g_devices[i];
  return NO_ERROR;
}

EXPORT int ANeuralNetworksDevice_getName(const ANeuralNetworksDevice *d, const char **name) {
  ENTER("ANeuralNetworksDevice_getName");
  if (!d || !name) FAIL(UNEXPECTED_NULL, "ANeuralNetworksDevice_getName: NULL");
  *name = d->name;
  return NO_ERROR;
}

EXPORT int ANeuralNetworksDevice_getType(const ANeuralNetworksDevice *d, int32_t *type) {
  ENTER("ANeuralNetworksDevice_getType");
  if (!d || !type) FAIL(UNEXPECTED_NULL, "ANeuralNetworksDevice_getType: NULL");
  *type = d->type;
  return NO_ERROR;
}

EXPORT int ANeuralNetworksDevice_getVersion(const ANeuralNetworksDevice *d, const char **version) {
  ENTER("ANeuralNetworksDevice_getVersion");
  if (!d || !version) FAIL(UNEXPECTED_NULL, "ANeuralNetworksDevice_getVersion: NULL");
  *version = "edgelite-test-double";
  return NO_ERROR;
}

EXPORT int ANeuralNetworksDevice_getFeatureLevel(const ANeuralNetworksDevice *d, int64_t *level) {
  ENTER("ANeuralNetworksDevice_getFeatureLevel");
  if (!d || !level) FAIL(UNEXPECTED_NULL, "ANeuralNetworksDevice_getFeatureLevel: NULL");
  *level = DOUBLE_FEATURE_LEVEL;
  return NO_ERROR;
}
#endif

#if DOUBLE_FEATURE_LEVEL >= 31
EXPORT int64_t ANeuralNetworks_getRuntimeFeatureLevel(void) {
  enter("ANeuralNetworks_getRuntimeFeatureLevel");
  return DOUBLE_FEATURE_LEVEL;
}
#endif
