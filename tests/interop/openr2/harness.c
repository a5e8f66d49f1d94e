/*
 * OpenR2 1.3.3 (China variant) as a peer for callbox's No.1 tests.
 *
 * OpenR2 1.3.3 can only do I/O through DAHDI ioctls, read() and write() on the fd each channel is
 * created from. This program defines its own ioctl(), read() and write() (the library's calls bind to
 * them: link with -Wl,--export-dynamic) and emulates a DAHDI CAS channel for each dummy fd; every
 * other fd goes straight to the system call.
 *
 * It is stepped by its parent (tests/interop/openr2/bridge.py) once per 20 ms tick over stdin/stdout:
 *   in:  'T', nchan (u8), cmdlen (u16 LE), nchan CAS nibbles (rx ABCD), nchan x 160 A-law, command text
 *   out: 'R', nchan (u8), nchan flags (1 = call answered), nchan CAS nibbles (tx), nchan x 160 A-law
 * Commands (one per line): "call CH ANI DNIS", "answer CH", "hangup CH".
 * Events go to stderr, one per line: "EV CH name key=value ...".
 *
 * Options: --chans N --max-ani N --max-dnis N --ani-first 0|1 --on-offer accept|busy|unallocated|
 *          congestion|outoforder|none --accept-mode charge|nocharge --answer-ms N --log 0|1|2
 *          --skip-category 0|1
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <dahdi/user.h>
#include <openr2.h>

#define FRAME 160
#define MAXCH 30
#define RXQ (FRAME * 3)

struct chan {
	int fd;
	int number;
	openr2_chan_t *r2;
	uint8_t rxbits, txbits;
	int event_pending;
	uint8_t rxq[RXQ];
	int rxlen;
	uint8_t tx[FRAME];
	int txlen;
	int answered;
	int answer_at_tick; /* -1: none */
};

static struct chan chans[MAXCH];
static int nchan = 1;
static long tick;
static const char *on_offer = "accept";
static int accept_charge = 1;
static int answer_ms = 1000;
static int verbose;

/* ---- raw I/O for our own pipes (never through the interposed symbols) ------------------------ */

static int read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		long r = syscall(SYS_read, fd, (char *)buf + got, n - got);
		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t n)
{
	size_t done = 0;
	while (done < n) {
		long r = syscall(SYS_write, fd, (const char *)buf + done, n - done);
		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			return -1;
		}
		done += (size_t)r;
	}
	return 0;
}

static void event(int ch, const char *fmt, ...)
{
	char line[512];
	int n = snprintf(line, sizeof(line), "EV %d ", ch);
	va_list ap;
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 2, fmt, ap);
	va_end(ap);
	line[n++] = '\n';
	write_full(2, line, (size_t)n);
}

static struct chan *by_fd(int fd)
{
	for (int i = 0; i < nchan; i++)
		if (chans[i].fd == fd)
			return &chans[i];
	return NULL;
}

/* ---- the emulated DAHDI channel -------------------------------------------------------------- */

int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	va_start(ap, request);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	struct chan *c = by_fd(fd);
	if (!c || _IOC_TYPE(request) != DAHDI_CODE)
		return (int)syscall(SYS_ioctl, fd, request, arg);
	int *iarg = arg;
	if (verbose > 1) {
		char line[96];
		int n = snprintf(line, sizeof(line), "IOCTL %d t=%ld nr=%lu dir=%lu arg=%d rx=%d ev=%d\n", c->number, tick,
				 (unsigned long)_IOC_NR(request), (unsigned long)_IOC_DIR(request), iarg ? *iarg : -1,
				 c->rxbits, c->event_pending);
		write_full(2, line, (size_t)n);
	}
	if (request == DAHDI_GETRXBITS) {
		*iarg = c->rxbits;
	} else if (request == DAHDI_SETTXBITS) {
		c->txbits = (uint8_t)(*iarg & 0xF);
	} else if (request == DAHDI_GET_BUFINFO) {
		struct dahdi_bufferinfo *bi = arg;
		memset(bi, 0, sizeof(*bi));
		bi->numbufs = 4;
		bi->bufsize = FRAME;
	} else if (_IOC_NR(request) == _IOC_NR(DAHDI_GET_PARAMS)) {
		struct dahdi_params *p = arg;
		memset(p, 0, sizeof(*p));
		p->channo = c->number;
		p->spanno = 1;
		p->chanpos = c->number;
		p->sigtype = DAHDI_SIG_CAS;
		p->sigcap = DAHDI_SIG_CAS;
		p->rxbits = c->rxbits;
		p->txbits = c->txbits;
		p->curlaw = DAHDI_LAW_ALAW;
	} else if (request == DAHDI_CHANNO) {
		*iarg = c->number;
	} else if (request == DAHDI_IOMUX) {
		int want = *iarg, ready = 0;
		if ((want & DAHDI_IOMUX_SIGEVENT) && c->event_pending)
			ready |= DAHDI_IOMUX_SIGEVENT;
		if ((want & DAHDI_IOMUX_READ) && c->rxlen >= FRAME)
			ready |= DAHDI_IOMUX_READ;
		if ((want & DAHDI_IOMUX_WRITE) && c->txlen < FRAME)
			ready |= DAHDI_IOMUX_WRITE;
		*iarg = ready;
	} else if (request == DAHDI_GETEVENT) {
		*iarg = c->event_pending ? DAHDI_EVENT_BITSCHANGED : DAHDI_EVENT_NONE;
		c->event_pending = 0;
	} else if (_IOC_NR(request) == _IOC_NR(DAHDI_FLUSH)) {
		c->rxlen = 0;
	}
	/* SETGAINS, SETLAW, ECHOCANCEL, SET_BUFINFO, AUDIOMODE, ...: accepted, nothing to do */
	return 0;
}

ssize_t read(int fd, void *buf, size_t n)
{
	struct chan *c = by_fd(fd);
	if (!c)
		return syscall(SYS_read, fd, buf, n);
	size_t k = n < (size_t)c->rxlen ? n : (size_t)c->rxlen;
	if (k > FRAME)
		k = FRAME;
	memcpy(buf, c->rxq, k);
	memmove(c->rxq, c->rxq + k, (size_t)c->rxlen - k);
	c->rxlen -= (int)k;
	return (ssize_t)k;
}

ssize_t write(int fd, const void *buf, size_t n)
{
	struct chan *c = by_fd(fd);
	if (!c)
		return syscall(SYS_write, fd, buf, n);
	size_t room = (size_t)(FRAME - c->txlen);
	size_t k = n < room ? n : room;
	memcpy(c->tx + c->txlen, buf, k);
	c->txlen += (int)k;
	return (ssize_t)n; /* like a DAHDI channel with buffer space: the rest is late audio, dropped */
}

/* ---- OpenR2 events --------------------------------------------------------------------------- */

static struct chan *chan_of(openr2_chan_t *r2)
{
	return openr2_chan_get_client_data(r2);
}

static void on_call_init(openr2_chan_t *r2)
{
	event(chan_of(r2)->number, "init");
}

static void on_call_offered(openr2_chan_t *r2, const char *ani, const char *dnis, openr2_calling_party_category_t cat)
{
	struct chan *c = chan_of(r2);
	event(c->number, "offered ani=%s dnis=%s category=%s", ani && *ani ? ani : "-", dnis ? dnis : "-",
	      openr2_proto_get_category_string(cat));
	if (!strcmp(on_offer, "accept"))
		openr2_chan_accept_call(r2, accept_charge ? OR2_CALL_WITH_CHARGE : OR2_CALL_NO_CHARGE);
	else if (!strcmp(on_offer, "busy"))
		openr2_chan_disconnect_call(r2, OR2_CAUSE_BUSY_NUMBER);
	else if (!strcmp(on_offer, "unallocated"))
		openr2_chan_disconnect_call(r2, OR2_CAUSE_UNALLOCATED_NUMBER);
	else if (!strcmp(on_offer, "congestion"))
		openr2_chan_disconnect_call(r2, OR2_CAUSE_NETWORK_CONGESTION);
	else if (!strcmp(on_offer, "outoforder"))
		openr2_chan_disconnect_call(r2, OR2_CAUSE_OUT_OF_ORDER);
}

static void on_call_accepted(openr2_chan_t *r2, openr2_call_mode_t mode)
{
	struct chan *c = chan_of(r2);
	event(c->number, "accepted mode=%s", openr2_proto_get_call_mode_string(mode));
	if (openr2_chan_get_direction(r2) == OR2_DIR_BACKWARD && answer_ms >= 0)
		c->answer_at_tick = (int)(tick + answer_ms / 20);
}

static void on_call_answered(openr2_chan_t *r2)
{
	struct chan *c = chan_of(r2);
	c->answered = 1;
	event(c->number, "answered");
}

static void on_call_disconnect(openr2_chan_t *r2, openr2_call_disconnect_cause_t cause)
{
	struct chan *c = chan_of(r2);
	c->answered = 0;
	c->answer_at_tick = -1;
	event(c->number, "disconnect cause=%s", openr2_proto_get_disconnect_string(cause));
	openr2_chan_disconnect_call(r2, OR2_CAUSE_NORMAL_CLEARING);
}

static void on_call_end(openr2_chan_t *r2)
{
	struct chan *c = chan_of(r2);
	c->answered = 0;
	event(c->number, "end");
}

static void on_call_read(openr2_chan_t *r2, const unsigned char *buf, int len)
{
	(void)r2, (void)buf, (void)len;
}

static void on_hardware_alarm(openr2_chan_t *r2, int alarm)
{
	event(chan_of(r2)->number, "alarm on=%d", alarm);
}

static void on_os_error(openr2_chan_t *r2, int err)
{
	event(chan_of(r2)->number, "os_error errno=%d", err);
}

static void on_protocol_error(openr2_chan_t *r2, openr2_protocol_error_t reason)
{
	struct chan *c = chan_of(r2);
	c->answered = 0;
	event(c->number, "protocol_error reason=%s", openr2_proto_get_error(reason));
	openr2_chan_set_idle(r2);
}

static void on_line_blocked(openr2_chan_t *r2)
{
	event(chan_of(r2)->number, "blocked");
}

static void on_line_idle(openr2_chan_t *r2)
{
	event(chan_of(r2)->number, "idle");
}

static void on_context_log(openr2_context_t *ctx, openr2_log_level_t level, const char *fmt, va_list ap)
{
	(void)ctx, (void)level;
	if (verbose) {
		char line[512];
		int n = vsnprintf(line, sizeof(line), fmt, ap);
		if (n > 0)
			write_full(2, line, (size_t)(n < (int)sizeof(line) ? n : (int)sizeof(line) - 1));
	}
}

static void on_chan_log(openr2_chan_t *r2, openr2_log_level_t level, const char *fmt, va_list ap)
{
	(void)level;
	if (verbose) {
		char line[600];
		int n = snprintf(line, sizeof(line), "LOG %d ", chan_of(r2)->number);
		n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
		if (n > (int)sizeof(line) - 1)
			n = (int)sizeof(line) - 1;
		write_full(2, line, (size_t)n);
	}
}

static int on_dnis_digit(openr2_chan_t *r2, char digit)
{
	event(chan_of(r2)->number, "dnis_digit digit=%c", digit);
	return 1;
}

static void on_ani_digit(openr2_chan_t *r2, char digit)
{
	event(chan_of(r2)->number, "ani_digit digit=%c", digit);
}

static void on_billing_pulse(openr2_chan_t *r2)
{
	(void)r2;
}

static openr2_event_interface_t events = {
	.on_call_init = on_call_init,
	.on_call_offered = on_call_offered,
	.on_call_accepted = on_call_accepted,
	.on_call_answered = on_call_answered,
	.on_call_disconnect = on_call_disconnect,
	.on_call_end = on_call_end,
	.on_call_read = on_call_read,
	.on_hardware_alarm = on_hardware_alarm,
	.on_os_error = on_os_error,
	.on_protocol_error = on_protocol_error,
	.on_line_blocked = on_line_blocked,
	.on_line_idle = on_line_idle,
	.on_context_log = on_context_log,
	.on_dnis_digit_received = on_dnis_digit,
	.on_ani_digit_received = on_ani_digit,
	.on_billing_pulse_received = on_billing_pulse,
};

/* ---- commands from the bridge ---------------------------------------------------------------- */

static struct chan *chan_no(int number)
{
	for (int i = 0; i < nchan; i++)
		if (chans[i].number == number)
			return &chans[i];
	return NULL;
}

static void command(char *line)
{
	char verb[16] = "", a[64] = "", b[64] = "";
	int ch = 0;
	if (sscanf(line, "%15s %d %63s %63s", verb, &ch, a, b) < 2)
		return;
	struct chan *c = chan_no(ch);
	if (!c) {
		event(ch, "bad_command %s", verb);
		return;
	}
	if (!strcmp(verb, "call")) {
		int r = openr2_chan_make_call(c->r2, !strcmp(a, "-") ? "" : a, b,
					      OR2_CALLING_PARTY_CATEGORY_NATIONAL_SUBSCRIBER);
		event(ch, "dialing result=%d", r);
	} else if (!strcmp(verb, "answer")) {
		openr2_chan_answer_call(c->r2);
		c->answered = 1;
	} else if (!strcmp(verb, "hangup")) {
		c->answered = 0;
		openr2_chan_disconnect_call(c->r2, OR2_CAUSE_NORMAL_CLEARING);
	}
}

static void commands(char *text)
{
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		command(line);
}

/* ---- main ------------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	int max_ani = 20, max_dnis = 4, ani_first = 1, skip_category = 0;
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (!strcmp(k, "--chans")) nchan = atoi(v);
		else if (!strcmp(k, "--max-ani")) max_ani = atoi(v);
		else if (!strcmp(k, "--max-dnis")) max_dnis = atoi(v);
		else if (!strcmp(k, "--ani-first")) ani_first = atoi(v);
		else if (!strcmp(k, "--on-offer")) on_offer = v;
		else if (!strcmp(k, "--accept-mode")) accept_charge = strcmp(v, "nocharge") != 0;
		else if (!strcmp(k, "--answer-ms")) answer_ms = atoi(v);
		else if (!strcmp(k, "--log")) verbose = atoi(v);
		else if (!strcmp(k, "--skip-category")) skip_category = atoi(v);
	}
	if (nchan < 1 || nchan > MAXCH) {
		fprintf(stderr, "bad --chans\n");
		return 2;
	}
	openr2_context_t *ctx = openr2_context_new(NULL, &events, NULL, OR2_VAR_CHINA, max_ani, max_dnis);
	if (!ctx) {
		fprintf(stderr, "openr2_context_new failed\n");
		return 1;
	}
	openr2_context_set_ani_first(ctx, ani_first);
	openr2_context_set_skip_category_request(ctx, skip_category);
	openr2_context_set_log_level(ctx, verbose ? OR2_LOG_ALL : OR2_LOG_ERROR);
	for (int i = 0; i < nchan; i++) {
		struct chan *c = &chans[i];
		c->number = i + 1;
		c->fd = open("/dev/null", O_RDWR);
		c->rxbits = 0x0B; /* idle, as the box sends at start */
		c->txbits = 0x0B;
		c->event_pending = 1; /* OpenR2 starts from bits 0000 (= seize): let it read the real ones first */
		c->answer_at_tick = -1;
		c->r2 = openr2_chan_new_from_fd(ctx, c->fd, NULL, NULL);
		if (!c->r2) {
			fprintf(stderr, "openr2_chan_new_from_fd failed for channel %d\n", c->number);
			return 1;
		}
		openr2_chan_set_client_data(c->r2, c);
		openr2_chan_set_logging_func(c->r2, on_chan_log);
		openr2_chan_set_log_level(c->r2, verbose ? OR2_LOG_ALL : OR2_LOG_ERROR);
		openr2_chan_set_idle(c->r2);
	}
	event(0, "ready chans=%d", nchan);

	static uint8_t audio[MAXCH * FRAME], out[2 + MAXCH * 2 + MAXCH * FRAME];
	static char text[4097];
	for (;;) {
		uint8_t head[4], cas[MAXCH];
		if (read_full(0, head, 4))
			break;
		int n = head[1], cmdlen = head[2] | (head[3] << 8);
		if (head[0] != 'T' || n != nchan || cmdlen > 4096) {
			fprintf(stderr, "bad tick header\n");
			return 3;
		}
		if (read_full(0, cas, (size_t)n) || read_full(0, audio, (size_t)n * FRAME) ||
		    read_full(0, text, (size_t)cmdlen))
			break;
		text[cmdlen] = 0;
		for (int i = 0; i < nchan; i++) {
			struct chan *c = &chans[i];
			if ((cas[i] & 0xF) != c->rxbits) {
				c->rxbits = cas[i] & 0xF;
				c->event_pending = 1;
			}
			if (c->rxlen + FRAME > RXQ) { /* keep the newest audio */
				memmove(c->rxq, c->rxq + FRAME, (size_t)c->rxlen - FRAME);
				c->rxlen -= FRAME;
			}
			memcpy(c->rxq + c->rxlen, audio + i * FRAME, FRAME);
			c->rxlen += FRAME;
			c->txlen = 0;
		}
		commands(text);
		for (int i = 0; i < nchan; i++) {
			struct chan *c = &chans[i];
			if (c->answer_at_tick >= 0 && tick >= c->answer_at_tick) {
				c->answer_at_tick = -1;
				openr2_chan_answer_call(c->r2);
				c->answered = 1;
				event(c->number, "answering");
			}
			openr2_chan_process_event(c->r2);
		}
		out[0] = 'R';
		out[1] = (uint8_t)nchan;
		for (int i = 0; i < nchan; i++) {
			struct chan *c = &chans[i];
			out[2 + i] = (uint8_t)c->answered;
			out[2 + nchan + i] = c->txbits;
			uint8_t *row = out + 2 + 2 * nchan + i * FRAME;
			memcpy(row, c->tx, (size_t)c->txlen);
			memset(row + c->txlen, 0xD5, (size_t)(FRAME - c->txlen)); /* A-law silence: "tone off" */
		}
		if (write_full(1, out, (size_t)(2 + 2 * nchan + nchan * FRAME)))
			break;
		tick++;
	}
	openr2_context_delete(ctx); /* deletes its channels too */
	return 0;
}
