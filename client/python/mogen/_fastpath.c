/*
 * _fastpath.c: the Python client's mailbox, in C (the module mogen._fastpath).
 *
 * With a mailbox a trainer's step makes no system call (docs/protocol.md,
 * "The mailbox"): what is left is the Python code around it, reading the
 * page, giving the previous slot back and building the batch's NumPy
 * arrays. A trainer runs its model between two steps, so that code runs in
 * cold caches, where each line of Python and each NumPy call costs
 * microseconds; this module does the whole step in one call.
 *
 * It orders its accesses to the page with C11 acquire/release atomics, so
 * the mailbox is safe on any CPU with it. The pure-Python page
 * (client.py, _PageMailbox) has no memory barrier and relies on x86 keeping
 * loads and stores in order.
 *
 * mogen.client imports this module when it was built (make, or pip install
 * with NumPy's headers at hand) and MOGEN_PURE_PYTHON is not set; otherwise
 * it uses _PageMailbox, which behaves the same: same batches, same arrays,
 * same errors.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "mailbox_layout.h"

#define WORD(offset) ((offset) / 4)

/* mogen.errors.ProtocolError, looked up when the module loads. */
static PyObject *protocol_error;

/* The keys of the info dict, made once. */
static PyObject *key_epoch, *key_batch, *key_size, *key_slot, *key_errors, *key_row_ids,
    *key_failed;

/*
 * One ring slot's arrays as the client made them at WELCOME: read-only
 * views of the whole slot, which the batches' arrays are cut from.
 */
typedef struct {
    PyArrayObject *x;
    PyObject *names;       /* tuple of output names */
    PyObject *outputs;     /* tuple of the outputs' arrays, in the same order */
    PyArrayObject *row_ids; /* int64 [rows], or NULL */
    PyArrayObject *errors;  /* uint8 [rows], or NULL */
    npy_intp rows;
} slot_arrays_t;

typedef struct {
    PyObject_HEAD
    Py_buffer page;           /* the mapped page, held while open */
    _Atomic uint32_t *words;  /* page.buf as 32-bit words; NULL once closed */
    uint32_t taken;           /* batches taken, mod 2^32 */
    uint32_t released;        /* slots given back through the ring, mod 2^32 */
    uint32_t consumed;        /* of those, acted on by the daemon when last read */
    slot_arrays_t *slots;
    Py_ssize_t slot_count;
    PyObject *slot_objects;   /* the tuple the slots were read from (holds them) */
    unsigned long long world, rank, batches_per_epoch;
} mailbox_t;

static uint32_t load_word(mailbox_t *m, int offset, memory_order order)
{
    return atomic_load_explicit(&m->words[WORD(offset)], order);
}

static void store_word(mailbox_t *m, int offset, uint32_t value, memory_order order)
{
    atomic_store_explicit(&m->words[WORD(offset)], value, order);
}

static int mailbox_check_open(mailbox_t *m)
{
    if (m->words == NULL) {
        PyErr_SetString(PyExc_ValueError, "the mailbox is closed");
        return -1;
    }
    return 0;
}

/* Returns 0 when a is a C-contiguous 1-d array of at least rows elements of
 * type_num in native order; else sets TypeError and returns -1. */
static int check_info_array(PyObject *a, int type_num, npy_intp rows, const char *what)
{
    if (!PyArray_Check(a) || PyArray_NDIM((PyArrayObject *)a) != 1
        || PyArray_TYPE((PyArrayObject *)a) != type_num
        || !PyArray_ISNOTSWAPPED((PyArrayObject *)a)
        || !PyArray_IS_C_CONTIGUOUS((PyArrayObject *)a)
        || PyArray_DIM((PyArrayObject *)a, 0) < rows) {
        PyErr_Format(PyExc_TypeError, "%s must be a contiguous 1-d array of %zd rows", what,
                     (Py_ssize_t)rows);
        return -1;
    }
    return 0;
}

/* Reads one slot's (x, names, outputs, row_ids, errors) into s. */
static int slot_arrays_read(slot_arrays_t *s, PyObject *entry)
{
    PyObject *x, *names, *outputs, *row_ids, *errors;

    if (!PyTuple_Check(entry)
        || !PyArg_ParseTuple(entry, "O!O!O!OO", &PyArray_Type, &x, &PyTuple_Type, &names,
                             &PyTuple_Type, &outputs, &row_ids, &errors))
        return -1;
    if (PyArray_NDIM((PyArrayObject *)x) < 1 || PyTuple_GET_SIZE(names) != PyTuple_GET_SIZE(outputs)) {
        PyErr_SetString(PyExc_TypeError, "a slot needs x and one array per output name");
        return -1;
    }
    s->x = (PyArrayObject *)x;
    s->rows = PyArray_DIM(s->x, 0);
    s->names = names;
    s->outputs = outputs;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(outputs); i++) {
        PyObject *o = PyTuple_GET_ITEM(outputs, i);
        if (!PyArray_Check(o) || PyArray_NDIM((PyArrayObject *)o) < 1
            || PyArray_DIM((PyArrayObject *)o, 0) < s->rows) {
            PyErr_SetString(PyExc_TypeError, "an output's array has fewer rows than x");
            return -1;
        }
    }
    s->row_ids = NULL;
    if (row_ids != Py_None) {
        if (check_info_array(row_ids, NPY_INT64, s->rows, "row_ids") < 0)
            return -1;
        s->row_ids = (PyArrayObject *)row_ids;
    }
    s->errors = NULL;
    if (errors != Py_None) {
        if (check_info_array(errors, NPY_UINT8, s->rows, "errors") < 0)
            return -1;
        s->errors = (PyArrayObject *)errors;
    }
    return 0;
}

static void mailbox_clear(mailbox_t *m)
{
    if (m->words != NULL) {
        PyBuffer_Release(&m->page);
        m->words = NULL;
    }
    PyMem_Free(m->slots);
    m->slots = NULL;
    m->slot_count = 0;
    Py_CLEAR(m->slot_objects);
}

/*
 * Mailbox(page, slots, world, rank, batches_per_epoch): page is the mapped
 * mailbox (writable, MOGEN_MAILBOX_SIZE bytes at least); slots holds, per
 * ring slot, (x, names, outputs, row_ids, errors) as described above.
 */
static int mailbox_init(mailbox_t *m, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"page", "slots", "world", "rank", "batches_per_epoch", NULL};
    PyObject *page, *slots;
    unsigned long long world, rank, per_epoch;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO!KKK", keywords, &page, &PyTuple_Type,
                                     &slots, &world, &rank, &per_epoch))
        return -1;
    if (world < 1 || rank >= world) {
        PyErr_SetString(PyExc_ValueError, "rank must be in [0, world)");
        return -1;
    }
    mailbox_clear(m);
    if (PyObject_GetBuffer(page, &m->page, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0)
        return -1;
    if (m->page.len < MOGEN_MAILBOX_SIZE || ((uintptr_t)m->page.buf & 3) != 0) {
        PyBuffer_Release(&m->page);
        PyErr_Format(PyExc_ValueError, "the mailbox page must be %d aligned bytes",
                     MOGEN_MAILBOX_SIZE);
        return -1;
    }
    m->words = (_Atomic uint32_t *)m->page.buf;

    Py_ssize_t count = PyTuple_GET_SIZE(slots);
    m->slots = PyMem_Calloc(count ? (size_t)count : 1, sizeof(*m->slots));
    if (m->slots == NULL) {
        mailbox_clear(m);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        if (slot_arrays_read(&m->slots[i], PyTuple_GET_ITEM(slots, i)) < 0) {
            mailbox_clear(m);
            return -1;
        }
    }
    m->slot_count = count;
    Py_INCREF(slots);
    m->slot_objects = slots;
    m->world = world;
    m->rank = rank;
    m->batches_per_epoch = per_epoch;
    m->taken = load_word(m, MOGEN_MAILBOX_TAKEN, memory_order_acquire);
    m->released = m->consumed = load_word(m, MOGEN_MAILBOX_RELEASED, memory_order_acquire);
    return 0;
}

static void mailbox_dealloc(mailbox_t *m)
{
    mailbox_clear(m);
    Py_TYPE(m)->tp_free((PyObject *)m);
}

/* The entry of the batch posted after `taken`, read once `posted` said so. */
typedef struct {
    uint32_t posted, slot, epoch, batch, size;
} posted_t;

/* Returns 1 and fills p when a batch is posted, 0 when none is, -1 (with
 * ProtocolError set) when the page says something the daemon never does. */
static int mailbox_peek(mailbox_t *m, posted_t *p)
{
    p->posted = load_word(m, MOGEN_MAILBOX_POSTED, memory_order_acquire);
    if (p->posted == m->taken)
        return 0;
    if (p->posted != m->taken + 1) {
        PyErr_Format(protocol_error,
                     "the mailbox says %u batches posted after %u taken; the daemon posts one "
                     "at a time", p->posted, m->taken);
        return -1;
    }
    p->slot = load_word(m, MOGEN_MAILBOX_SLOT, memory_order_relaxed);
    p->epoch = load_word(m, MOGEN_MAILBOX_EPOCH, memory_order_relaxed);
    p->batch = load_word(m, MOGEN_MAILBOX_BATCH, memory_order_relaxed);
    p->size = load_word(m, MOGEN_MAILBOX_COUNT, memory_order_relaxed);
    return 1;
}

/* A new reference to None (Py_NewRef is Python 3.10+). */
static PyObject *none(void)
{
    Py_INCREF(Py_None);
    return Py_None;
}

static void mailbox_mark_taken(mailbox_t *m, uint32_t posted)
{
    store_word(m, MOGEN_MAILBOX_TAKEN, posted, memory_order_release);
    m->taken = posted;
}

/* Whether the release ring has room, reading `consumed` again when it
 * looked full. */
static int mailbox_ring_has_room(mailbox_t *m)
{
    if (m->released - m->consumed >= MOGEN_MAILBOX_RELEASES)
        m->consumed = load_word(m, MOGEN_MAILBOX_CONSUMED, memory_order_acquire);
    return m->released - m->consumed < MOGEN_MAILBOX_RELEASES;
}

/* The slot number, then the count that makes the daemon read it. */
static void mailbox_push_release(mailbox_t *m, uint32_t slot)
{
    int at = MOGEN_MAILBOX_RELEASE_AT + (int)(m->released % MOGEN_MAILBOX_RELEASES) * 4;
    store_word(m, at, slot, memory_order_relaxed);
    m->released++;
    store_word(m, MOGEN_MAILBOX_RELEASED, m->released, memory_order_release);
}

/* take() -> (slot, epoch, batch, size) of the posted batch, marking it
 * taken, or None when none is posted. */
static PyObject *mailbox_take(mailbox_t *m, PyObject *unused)
{
    posted_t p;
    (void)unused;

    if (mailbox_check_open(m) < 0)
        return NULL;
    int found = mailbox_peek(m, &p);
    if (found <= 0)
        return found < 0 ? NULL : none();
    mailbox_mark_taken(m, p.posted);
    return Py_BuildValue("(IIII)", p.slot, p.epoch, p.batch, p.size);
}

/* give_back(slot) -> True when the slot went into the release ring, False
 * when the ring is full (send RELEASE instead). */
static PyObject *mailbox_give_back(mailbox_t *m, PyObject *arg)
{
    unsigned long slot = PyLong_AsUnsignedLong(arg);

    if (slot == (unsigned long)-1 && PyErr_Occurred())
        return NULL;
    if (mailbox_check_open(m) < 0)
        return NULL;
    if (slot > UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "slot out of range");
        return NULL;
    }
    if (!mailbox_ring_has_room(m))
        Py_RETURN_FALSE;
    mailbox_push_release(m, (uint32_t)slot);
    Py_RETURN_TRUE;
}

/* sync_taken(): after a NEXT answered with a batch the daemon had posted
 * (it marks it taken then), reads `taken` back. */
static PyObject *mailbox_sync_taken(mailbox_t *m, PyObject *unused)
{
    (void)unused;
    if (mailbox_check_open(m) < 0)
        return NULL;
    m->taken = load_word(m, MOGEN_MAILBOX_TAKEN, memory_order_acquire);
    Py_RETURN_NONE;
}

/* The first `size` rows of a slot's array, as a new read-only view. */
static PyObject *first_rows(PyArrayObject *whole, npy_intp size)
{
    npy_intp dims[NPY_MAXDIMS];
    int ndim = PyArray_NDIM(whole);
    PyArray_Descr *descr = PyArray_DESCR(whole);

    memcpy(dims, PyArray_DIMS(whole), (size_t)ndim * sizeof(*dims));
    dims[0] = size;
    Py_INCREF(descr); /* stolen by PyArray_NewFromDescr */
    PyObject *view = PyArray_NewFromDescr(&PyArray_Type, descr, ndim, dims,
                                          PyArray_STRIDES(whole), PyArray_DATA(whole), 0, NULL);
    if (view == NULL)
        return NULL;
    Py_INCREF(whole); /* stolen by PyArray_SetBaseObject */
    if (PyArray_SetBaseObject((PyArrayObject *)view, (PyObject *)whole) < 0) {
        Py_DECREF(view);
        return NULL;
    }
    return view;
}

/* An owned int64 copy of the first size row ids (empty without them). */
static PyObject *owned_row_ids(const slot_arrays_t *s, npy_intp size)
{
    npy_intp length = s->row_ids != NULL ? size : 0;
    PyObject *copy = PyArray_SimpleNew(1, &length, NPY_INT64);

    if (copy != NULL && length > 0)
        memcpy(PyArray_DATA((PyArrayObject *)copy), PyArray_DATA(s->row_ids),
               (size_t)length * sizeof(int64_t));
    return copy;
}

/* An owned bool mask of the first size samples that failed. */
static PyObject *owned_failed(const slot_arrays_t *s, npy_intp size)
{
    if (s->errors == NULL)
        return PyArray_ZEROS(1, &size, NPY_BOOL, 0);
    PyObject *mask = PyArray_SimpleNew(1, &size, NPY_BOOL);
    if (mask == NULL)
        return NULL;
    const uint8_t *flags = PyArray_DATA(s->errors);
    npy_bool *out = PyArray_DATA((PyArrayObject *)mask);
    for (npy_intp i = 0; i < size; i++)
        out[i] = flags[i] != 0;
    return mask;
}

/* {output name: first size rows} for a slot. */
static PyObject *outputs_dict(const slot_arrays_t *s, npy_intp size)
{
    PyObject *y = PyDict_New();

    if (y == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(s->outputs); i++) {
        PyObject *view = first_rows((PyArrayObject *)PyTuple_GET_ITEM(s->outputs, i), size);
        if (view == NULL || PyDict_SetItem(y, PyTuple_GET_ITEM(s->names, i), view) < 0) {
            Py_XDECREF(view);
            Py_DECREF(y);
            return NULL;
        }
        Py_DECREF(view);
    }
    return y;
}

/* dict[key] = value, taking the reference to value (NULL: an error is set). */
static int dict_put(PyObject *dict, PyObject *key, PyObject *value)
{
    if (value == NULL)
        return -1;
    int rc = PyDict_SetItem(dict, key, value);
    Py_DECREF(value);
    return rc;
}

/* The info dict of a batch taken from the mailbox: same keys, same order
 * as the pure-Python client's. Mailbox batches have no errors list (the
 * daemon posts no batch with a failed file, and would send it as BATCH). */
static PyObject *batch_info(const posted_t *p, const slot_arrays_t *s)
{
    PyObject *info = PyDict_New();

    /* Each value is made only once the ones before it are in. */
    if (info == NULL
        || dict_put(info, key_epoch, PyLong_FromUnsignedLong(p->epoch)) < 0
        || dict_put(info, key_batch, PyLong_FromUnsignedLong(p->batch)) < 0
        || dict_put(info, key_size, PyLong_FromUnsignedLong(p->size)) < 0
        || dict_put(info, key_slot, PyLong_FromUnsignedLong(p->slot)) < 0
        || dict_put(info, key_errors, PyList_New(0)) < 0
        || dict_put(info, key_row_ids, owned_row_ids(s, p->size)) < 0
        || dict_put(info, key_failed, owned_failed(s, p->size)) < 0) {
        Py_XDECREF(info);
        return NULL;
    }
    return info;
}

/* (epoch, batch) this rank receives after the given batch. */
static PyObject *position_after(const mailbox_t *m, const posted_t *p)
{
    unsigned long long next = (unsigned long long)p->batch + m->world;

    if (next < m->batches_per_epoch)
        return Py_BuildValue("(IK)", p->epoch, next);
    return Py_BuildValue("(KK)", (unsigned long long)p->epoch + 1, m->rank);
}

/*
 * next_batch(held) -> (slot, x, y, info, position), or None.
 *
 * The whole step of Client.next_batch() when a batch is posted: marks it
 * taken, gives the held slot (an int, or None) back through the ring, and
 * builds the arrays. Returns None, touching nothing, when no batch is
 * posted or the ring has no room for the held slot: the caller then goes
 * the usual way (take(), RELEASE, NEXT).
 */
static PyObject *mailbox_next_batch(mailbox_t *m, PyObject *held_arg)
{
    posted_t p;
    Py_ssize_t held = -1;

    if (mailbox_check_open(m) < 0)
        return NULL;
    if (held_arg != Py_None) {
        held = PyLong_AsSsize_t(held_arg);
        if (held == -1 && PyErr_Occurred())
            return NULL;
        if (held < 0 || held >= m->slot_count) {
            PyErr_Format(PyExc_ValueError, "held slot %zd is not in the ring", held);
            return NULL;
        }
    }
    int found = mailbox_peek(m, &p);
    if (found <= 0)
        return found < 0 ? NULL : none();
    if (held >= 0 && !mailbox_ring_has_room(m))
        Py_RETURN_NONE;
    if (p.slot >= (uint64_t)m->slot_count) {
        PyErr_Format(protocol_error, "BATCH names slot %u of %zd", p.slot, m->slot_count);
        return NULL;
    }
    const slot_arrays_t *s = &m->slots[p.slot];
    if ((uint64_t)p.size > (uint64_t)s->rows) {
        PyErr_Format(protocol_error, "BATCH size %u exceeds the slot's %zd", p.size,
                     (Py_ssize_t)s->rows);
        return NULL;
    }
    /* From here the page says the batch is ours and the held slot is back.
     * Should building the arrays fail (out of memory), the client gives
     * the connection up, and the daemon frees every lease it had. */
    mailbox_mark_taken(m, p.posted);
    if (held >= 0)
        mailbox_push_release(m, (uint32_t)held);

    npy_intp size = (npy_intp)p.size;
    PyObject *x = first_rows(s->x, size);
    PyObject *y = x != NULL ? outputs_dict(s, size) : NULL;
    PyObject *info = y != NULL ? batch_info(&p, s) : NULL;
    PyObject *position = info != NULL ? position_after(m, &p) : NULL;
    if (position == NULL) {
        Py_XDECREF(x);
        Py_XDECREF(y);
        Py_XDECREF(info);
        return NULL;
    }
    return Py_BuildValue("(INNNN)", p.slot, x, y, info, position);
}

/* close(): lets go of the page and the slots' arrays. */
static PyObject *mailbox_close(mailbox_t *m, PyObject *unused)
{
    (void)unused;
    mailbox_clear(m);
    Py_RETURN_NONE;
}

static PyObject *mailbox_get_taken(mailbox_t *m, void *closure)
{
    (void)closure;
    return PyLong_FromUnsignedLong(m->taken);
}

static PyObject *mailbox_get_released(mailbox_t *m, void *closure)
{
    (void)closure;
    return PyLong_FromUnsignedLong(m->released);
}

static PyMethodDef mailbox_methods[] = {
    {"take", (PyCFunction)mailbox_take, METH_NOARGS,
     "take() -> (slot, epoch, batch, size) of the posted batch, now taken; or None."},
    {"give_back", (PyCFunction)mailbox_give_back, METH_O,
     "give_back(slot) -> True if the slot went into the release ring, False if it is full."},
    {"sync_taken", (PyCFunction)mailbox_sync_taken, METH_NOARGS,
     "sync_taken(): reads `taken` back after NEXT was answered with a posted batch."},
    {"next_batch", (PyCFunction)mailbox_next_batch, METH_O,
     "next_batch(held) -> (slot, x, y, info, position) of the posted batch, giving the held "
     "slot back; None when none is posted or the release ring is full."},
    {"close", (PyCFunction)mailbox_close, METH_NOARGS,
     "close(): lets go of the page and the slots' arrays."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef mailbox_getset[] = {
    {"taken", (getter)mailbox_get_taken, NULL, "batches taken, mod 2^32", NULL},
    {"released", (getter)mailbox_get_released, NULL, "slots given back, mod 2^32", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject mailbox_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mogen._fastpath.Mailbox",
    .tp_doc = "Mailbox(page, slots, world, rank, batches_per_epoch): a client's mailbox.",
    .tp_basicsize = sizeof(mailbox_t),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)mailbox_init,
    .tp_dealloc = (destructor)mailbox_dealloc,
    .tp_methods = mailbox_methods,
    .tp_getset = mailbox_getset,
};

static struct PyModuleDef fastpath_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "mogen._fastpath",
    .m_doc = "The Python client's mailbox step in C (see mogen.client).",
    .m_size = -1,
};

static int intern_keys(void)
{
    key_epoch = PyUnicode_InternFromString("epoch");
    key_batch = PyUnicode_InternFromString("batch");
    key_size = PyUnicode_InternFromString("size");
    key_slot = PyUnicode_InternFromString("slot");
    key_errors = PyUnicode_InternFromString("errors");
    key_row_ids = PyUnicode_InternFromString("row_ids");
    key_failed = PyUnicode_InternFromString("failed");
    return key_epoch && key_batch && key_size && key_slot && key_errors && key_row_ids
        && key_failed ? 0 : -1;
}

/* The module's entry point, found by its name. */
PyMODINIT_FUNC PyInit__fastpath(void);

PyMODINIT_FUNC PyInit__fastpath(void)
{
    import_array();
    if (intern_keys() < 0 || PyType_Ready(&mailbox_type) < 0)
        return NULL;
    PyObject *errors = PyImport_ImportModule("mogen.errors");
    if (errors == NULL)
        return NULL;
    protocol_error = PyObject_GetAttrString(errors, "ProtocolError");
    Py_DECREF(errors);
    if (protocol_error == NULL)
        return NULL;
    PyObject *module = PyModule_Create(&fastpath_module);
    if (module == NULL)
        return NULL;
    Py_INCREF(&mailbox_type);
    if (PyModule_AddObject(module, "Mailbox", (PyObject *)&mailbox_type) < 0) {
        Py_DECREF(&mailbox_type);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
