"""The spandsp binding: cffi in ABI mode against Debian's libspandsp2 (0.0.6).

Only the functions the DSP modules use are declared; every state is an opaque pointer made with
``xxx_init(NULL, ...)`` and freed by ``ffi.gc``. Static tables that spandsp fills on first use are
warmed up here, once, at import (cffi releases the GIL during calls).
"""

from __future__ import annotations

from cffi import FFI

ffi = FFI()
ffi.cdef("""
typedef struct dtmf_rx_state_s dtmf_rx_state_t;
typedef struct dtmf_tx_state_s dtmf_tx_state_t;
typedef struct adsi_rx_state_s adsi_rx_state_t;
typedef struct adsi_tx_state_s adsi_tx_state_t;
typedef struct g711_state_s g711_state_t;

typedef void (*digits_rx_callback_t)(void *user_data, const char *digits, int len);
typedef void (*put_msg_func_t)(void *user_data, const uint8_t *msg, int len);

dtmf_rx_state_t *dtmf_rx_init(dtmf_rx_state_t *s, digits_rx_callback_t callback, void *user_data);
void dtmf_rx_parms(dtmf_rx_state_t *s, int filter_dialtone, int twist, int reverse_twist, int threshold);
int dtmf_rx(dtmf_rx_state_t *s, const int16_t amp[], int samples);
size_t dtmf_rx_get(dtmf_rx_state_t *s, char *digits, int max);
int dtmf_rx_free(dtmf_rx_state_t *s);

dtmf_tx_state_t *dtmf_tx_init(dtmf_tx_state_t *s);
void dtmf_tx_set_level(dtmf_tx_state_t *s, int level, int twist);
void dtmf_tx_set_timing(dtmf_tx_state_t *s, int on_time, int off_time);
int dtmf_tx_put(dtmf_tx_state_t *s, const char *digits, int len);
int dtmf_tx(dtmf_tx_state_t *s, int16_t amp[], int max_samples);
int dtmf_tx_free(dtmf_tx_state_t *s);

adsi_rx_state_t *adsi_rx_init(adsi_rx_state_t *s, int standard, put_msg_func_t put_msg, void *user_data);
int adsi_rx(adsi_rx_state_t *s, const int16_t amp[], int len);
int adsi_rx_free(adsi_rx_state_t *s);
int adsi_next_field(adsi_rx_state_t *s, const uint8_t *msg, int msg_len, int pos,
                    uint8_t *field_type, uint8_t const **field_body, int *field_len);

adsi_tx_state_t *adsi_tx_init(adsi_tx_state_t *s, int standard);
void adsi_tx_set_preamble(adsi_tx_state_t *s, int preamble_len, int preamble_ones_len,
                          int postamble_ones_len, int stop_bits);
int adsi_tx_put_message(adsi_tx_state_t *s, const uint8_t *msg, int len);
int adsi_add_field(adsi_tx_state_t *s, uint8_t *msg, int len, uint8_t field_type,
                   uint8_t const *field_body, int field_len);
int adsi_tx(adsi_tx_state_t *s, int16_t amp[], int max_len);
int adsi_tx_free(adsi_tx_state_t *s);

g711_state_t *g711_init(g711_state_t *s, int mode);
int g711_decode(g711_state_t *s, int16_t amp[], const uint8_t g711_data[], int g711_bytes);
int g711_encode(g711_state_t *s, uint8_t g711_data[], const int16_t amp[], int len);
int g711_free(g711_state_t *s);
""")

SONAME = "libspandsp.so.2"  # pinned: spandsp 3.0 (.so.3) changes APIs this binding relies on
lib = ffi.dlopen(SONAME)

G711_ALAW = 0
ADSI_STANDARD_CLASS = 1
ADSI_STANDARD_CLIP_DTMF = 5


def _warm_up() -> None:
    rx = lib.dtmf_rx_init(ffi.NULL, ffi.NULL, ffi.NULL)
    lib.dtmf_rx_free(rx)
    tx = lib.dtmf_tx_init(ffi.NULL)
    lib.dtmf_tx_free(tx)


_warm_up()


# R2 MF (signaling/no1)
ffi.cdef("""
typedef struct r2_mf_tx_state_s r2_mf_tx_state_t;
typedef struct r2_mf_rx_state_s r2_mf_rx_state_t;
typedef void (*tone_report_func_t)(void *user_data, int code, int level, int delay);

r2_mf_tx_state_t *r2_mf_tx_init(r2_mf_tx_state_t *s, int fwd);
int r2_mf_tx_put(r2_mf_tx_state_t *s, char digit);
int r2_mf_tx(r2_mf_tx_state_t *s, int16_t amp[], int samples);
int r2_mf_tx_free(r2_mf_tx_state_t *s);

r2_mf_rx_state_t *r2_mf_rx_init(r2_mf_rx_state_t *s, int fwd, tone_report_func_t callback, void *user_data);
int r2_mf_rx(r2_mf_rx_state_t *s, const int16_t amp[], int samples);
int r2_mf_rx_get(r2_mf_rx_state_t *s);
int r2_mf_rx_free(r2_mf_rx_state_t *s);
""")


def _warm_up_r2_mf() -> None:
    for fwd in (1, 0):
        lib.r2_mf_rx_free(lib.r2_mf_rx_init(ffi.NULL, fwd, ffi.NULL, ffi.NULL))
        lib.r2_mf_tx_free(lib.r2_mf_tx_init(ffi.NULL, fwd))


_warm_up_r2_mf()
