/*
 * version.h: the release of mogen that mogend and mogenctl print with
 * --version. The wire protocol has its own number (MOGEN_PROTOCOL_VERSION in
 * frame.h), which changes only when the wire format does; the C client
 * library's API version is in mogen.h.
 */
#ifndef MOGEN_VERSION_H
#define MOGEN_VERSION_H

#define MOGEN_VERSION_STRING "0.1.0"

#endif
