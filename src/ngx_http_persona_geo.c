/*
 * GeoIP: "persona_geoip2 path [auto_reload=interval] [source=value]",
 * $persona_geo_NAME and the lookup the rules use.
 *
 * The MaxMind DB is opened (mmap) once at configuration, in the master;
 * workers inherit the mapping.  A client request looks its address up at
 * most once, the first time a variable or a rule asks, and only when
 * persona ran for it (it has a context): elsewhere every field is empty.
 * The lookup keeps the record (an MMDB_entry_s); each field is read from
 * it the first time it is asked for, and kept.  Most requests want one
 * or two fields: reading all seven up front costs about four times as
 * much as the tree walk (each read walks the record's maps from the top).
 *
 * Lifetime, with auto_reload: a timer in each worker stats the file and,
 * when it is another file or has another mtime or size, opens it and
 * swaps it in.  Lookups and reads are synchronous, but the fields of one
 * request are read at different moments (rewrite phase, body filter, log
 * phase), so a request keeps a reference on the database it looked up in
 * (released by its pool cleanup) and reads all its fields from that one:
 * a request never mixes two versions, and a swapped-out database is
 * closed when its last request ends.  A new version that cannot be
 * opened leaves the loaded one in place and is reported once (per worker
 * and file version), not at every check.
 */

#include "ngx_http_persona_module.h"

#include <maxminddb.h>

#include "persona_geo.h"


/* one open database; a reload replaces it as a whole */
typedef struct {
    MMDB_s                          mmdb;
    ngx_uint_t                      refs;     /* requests, + 1 if current */
    unsigned                        failure_logged:1;
} ngx_http_persona_geo_db_t;


/* a request's lookup */
struct ngx_http_persona_geo_req_s {
    ngx_http_persona_geo_db_t      *db;       /* NULL: no record */
    MMDB_entry_s                    entry;
    MMDB_entry_s                    location; /* the record's "location" */
    ngx_uint_t                      read;     /* bit per field read */
    ngx_str_t                       values[PERSONA_GEO_NFIELDS];
    unsigned                        location_state:2;
};


#define NGX_HTTP_PERSONA_GEO_UNKNOWN   0
#define NGX_HTTP_PERSONA_GEO_FOUND     1
#define NGX_HTTP_PERSONA_GEO_ABSENT    2


static const char *const  ngx_http_persona_geo_location[] = {
    "location", NULL
};


/* the file a database came from: another file has another stamp */
typedef struct {
    ngx_file_uniq_t                 uniq;
    time_t                          mtime;
    off_t                           size;
} ngx_http_persona_geo_stamp_t;


struct ngx_http_persona_geo_s {
    ngx_str_t                       path;        /* full, NUL-terminated */
    ngx_http_complex_value_t       *source;      /* NULL: client address */
    ngx_msec_t                      interval;    /* auto_reload, 0: off */

    ngx_http_persona_geo_db_t      *db;
    ngx_http_persona_geo_stamp_t    stamp;       /* of db's file */

    /* auto_reload, per worker */
    ngx_event_t                     timer;
    ngx_http_persona_geo_stamp_t    bad;         /* a version that failed */
    unsigned                        bad_set:1;
    unsigned                        stat_failed:1;
};


static ngx_http_persona_geo_db_t *ngx_http_persona_geo_open(u_char *path,
    ngx_log_t *log, int *status, ngx_err_t *err);
static void ngx_http_persona_geo_release(ngx_http_persona_geo_db_t *db);
static void ngx_http_persona_geo_req_cleanup(void *data);
static void ngx_http_persona_geo_cleanup(void *data);
static ngx_int_t ngx_http_persona_geo_stat(u_char *path,
    ngx_http_persona_geo_stamp_t *stamp);
static ngx_uint_t ngx_http_persona_geo_same(ngx_http_persona_geo_stamp_t *a,
    ngx_http_persona_geo_stamp_t *b);
static void ngx_http_persona_geo_timer(ngx_event_t *ev);
static void ngx_http_persona_geo_reload(ngx_http_persona_geo_t *geo,
    ngx_log_t *log);
static ngx_int_t ngx_http_persona_geo_lookup(ngx_http_request_t *r,
    ngx_http_persona_geo_t *geo, ngx_http_persona_geo_req_t *req);
static ngx_int_t ngx_http_persona_geo_address(ngx_http_request_t *r,
    ngx_http_persona_geo_t *geo, ngx_sockaddr_t *buf, struct sockaddr **sap);
static ngx_int_t ngx_http_persona_geo_read(ngx_http_request_t *r,
    ngx_http_persona_geo_t *geo, ngx_http_persona_geo_req_t *req,
    const persona_geo_field_t *f, ngx_str_t *value);
static ngx_int_t ngx_http_persona_geo_get_value(ngx_http_request_t *r,
    ngx_http_persona_geo_t *geo, ngx_http_persona_geo_req_t *req,
    MMDB_entry_s *start, const char *const *path, MMDB_entry_data_s *data);
static void ngx_http_persona_geo_failure(ngx_http_persona_geo_t *geo,
    ngx_http_persona_geo_db_t *db, ngx_log_t *log, const char *what,
    int status);


#define NGX_HTTP_PERSONA_GEO_VAR  "persona_geo_"


/* persona_geoip2: cmd->offset is the ngx_http_persona_geo_t * in conf */
char *
ngx_http_persona_geoip2(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    int                                status;
    ngx_err_t                          err;
    ngx_str_t                         *value, s;
    ngx_uint_t                         i;
    ngx_msec_t                         ms;
    ngx_pool_cleanup_t                *cln;
    ngx_http_persona_geo_t            *geo, **field;
    ngx_http_compile_complex_value_t   ccv;

    field = (ngx_http_persona_geo_t **) (p + cmd->offset);

    if (*field) {
        return "is duplicate";
    }

    value = cf->args->elts;

    geo = ngx_pcalloc(cf->pool, sizeof(ngx_http_persona_geo_t));
    if (geo == NULL) {
        return NGX_CONF_ERROR;
    }

    if (value[1].len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"persona_geoip2\" needs the path of a MaxMind "
                           "DB file");
        return NGX_CONF_ERROR;
    }

    /* relative to the configuration directory, like ssl_certificate */
    geo->path = value[1];

    if (ngx_conf_full_name(cf->cycle, &geo->path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "auto_reload=", 12) == 0) {
            s.data = value[i].data + 12;
            s.len = value[i].len - 12;

            if (s.len == 3 && ngx_strncmp(s.data, "off", 3) == 0) {
                geo->interval = 0;
                continue;
            }

            ms = ngx_parse_time(&s, 0);

            if (ms == (ngx_msec_t) NGX_ERROR || ms == 0) {
                goto invalid;
            }

            geo->interval = ms;
            continue;
        }

        if (ngx_strncmp(value[i].data, "source=", 7) == 0) {
            s.data = value[i].data + 7;
            s.len = value[i].len - 7;

            if (s.len == 0) {
                goto invalid;
            }

            geo->source = ngx_palloc(cf->pool,
                                     sizeof(ngx_http_complex_value_t));
            if (geo->source == NULL) {
                return NGX_CONF_ERROR;
            }

            ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

            ccv.cf = cf;
            ccv.value = &s;
            ccv.complex_value = geo->source;

            if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"persona_geoip2\": unknown parameter \"%V\"",
                           &value[i]);
        return NGX_CONF_ERROR;
    }

    geo->db = ngx_http_persona_geo_open(geo->path.data, cf->log, &status,
                                        &err);

    if (geo->db == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, err,
                           "\"persona_geoip2\": cannot open \"%s\": %s",
                           geo->path.data, MMDB_strerror(status));
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_http_persona_geo_release(geo->db);
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_persona_geo_cleanup;
    cln->data = geo;

    /* a failure only means the first check will open the file again */
    (void) ngx_http_persona_geo_stat(geo->path.data, &geo->stamp);

    *field = geo;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"persona_geoip2\": invalid value \"%V\"", &value[i]);
    return NGX_CONF_ERROR;
}


/* arms the auto_reload timer in a worker (not in cache helpers) */
ngx_int_t
ngx_http_persona_geo_init_process(ngx_cycle_t *cycle)
{
    ngx_http_persona_geo_t        *geo;
    ngx_http_persona_main_conf_t  *mcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    mcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_persona_module);

    if (mcf == NULL || mcf->geo == NULL || mcf->geo->interval == 0) {
        return NGX_OK;
    }

    geo = mcf->geo;

    geo->timer.handler = ngx_http_persona_geo_timer;
    geo->timer.data = geo;
    geo->timer.log = cycle->log;
    geo->timer.cancelable = 1;

    ngx_add_timer(&geo->timer, geo->interval);

    return NGX_OK;
}


/*
 * The value of one field (persona_geo_e) for the request whose context is
 * ctx: the address is looked up on first use, a field is read from the
 * record the first time it is asked for; both are kept in the context.
 * NGX_OK: a value; NGX_DECLINED: none (no data, no database, no such
 * field); NGX_ERROR: out of memory.
 */
ngx_int_t
ngx_http_persona_geo_attr(ngx_http_request_t *r, ngx_http_persona_ctx_t *ctx,
    ngx_uint_t field, ngx_str_t *value)
{
    ngx_http_persona_geo_req_t    *req;
    ngx_http_persona_main_conf_t  *mcf;

    ngx_str_null(value);

    if (field >= PERSONA_GEO_NFIELDS) {
        return NGX_DECLINED;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_persona_module);

    if (mcf->geo == NULL) {
        return NGX_DECLINED;
    }

    req = ctx->geo;

    if (req == NULL) {
        req = ngx_pcalloc(r->pool, sizeof(ngx_http_persona_geo_req_t));
        if (req == NULL) {
            return NGX_ERROR;
        }

        if (ngx_http_persona_geo_lookup(r, mcf->geo, req) != NGX_OK) {
            return NGX_ERROR;
        }

        ctx->geo = req;
    }

    if (req->db == NULL) {
        return NGX_DECLINED;
    }

    if (!(req->read & ((ngx_uint_t) 1 << field))) {
        if (ngx_http_persona_geo_read(r, mcf->geo, req,
                                      persona_geo_field_by_id(field),
                                      &req->values[field])
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        req->read |= (ngx_uint_t) 1 << field;
    }

    *value = req->values[field];

    return value->len ? NGX_OK : NGX_DECLINED;
}


/* the same for a request, which has no value where persona did not run */
ngx_int_t
ngx_http_persona_geo_value(ngx_http_request_t *r, ngx_uint_t field,
    ngx_str_t *value)
{
    ngx_http_persona_ctx_t  *ctx;

    ctx = ngx_http_persona_get_ctx(r);

    if (ctx == NULL) {
        ngx_str_null(value);
        return NGX_DECLINED;
    }

    return ngx_http_persona_geo_attr(r, ctx, field, value);
}


/* the same by name: "country", "time_zone"... */
ngx_int_t
ngx_http_persona_geo_get(ngx_http_request_t *r, ngx_str_t *field,
    ngx_str_t *value)
{
    const persona_geo_field_t  *f;

    f = persona_geo_field((const char *) field->data, field->len);

    if (f == NULL) {
        ngx_str_null(value);
        return NGX_DECLINED;
    }

    return ngx_http_persona_geo_value(r, f->id, value);
}


/* $persona_geo_NAME; no data or an unknown NAME: not found (empty) */
ngx_int_t
ngx_http_persona_geo_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t   *name = (ngx_str_t *) data;

    ngx_str_t    field, value;

    field.data = name->data + sizeof(NGX_HTTP_PERSONA_GEO_VAR) - 1;
    field.len = name->len - (sizeof(NGX_HTTP_PERSONA_GEO_VAR) - 1);

    v->no_cacheable = 1;

    switch (ngx_http_persona_geo_get(r, &field, &value)) {

    case NGX_OK:
        break;

    case NGX_DECLINED:
        v->not_found = 1;
        return NGX_OK;

    default:
        return NGX_ERROR;
    }

    v->data = value.data;
    v->len = value.len;
    v->valid = 1;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_http_persona_geo_db_t *
ngx_http_persona_geo_open(u_char *path, ngx_log_t *log, int *status,
    ngx_err_t *err)
{
    ngx_http_persona_geo_db_t  *db;

    *err = 0;

    db = ngx_alloc(sizeof(ngx_http_persona_geo_db_t), log);
    if (db == NULL) {
        *status = MMDB_OUT_OF_MEMORY_ERROR;
        return NULL;
    }

    ngx_memzero(db, sizeof(ngx_http_persona_geo_db_t));

    /* the reference of the configuration, while it is the current one */
    db->refs = 1;

    *status = MMDB_open((const char *) path, MMDB_MODE_MMAP, &db->mmdb);

    if (*status != MMDB_SUCCESS) {
        if (*status == MMDB_FILE_OPEN_ERROR || *status == MMDB_IO_ERROR) {
            *err = ngx_errno;
        }

        ngx_free(db);
        return NULL;
    }

    return db;
}


/* drops a reference; the last one closes the database */
static void
ngx_http_persona_geo_release(ngx_http_persona_geo_db_t *db)
{
    if (--db->refs) {
        return;
    }

    MMDB_close(&db->mmdb);
    ngx_free(db);
}


/* the request's pool goes away: it no longer reads from its database */
static void
ngx_http_persona_geo_req_cleanup(void *data)
{
    ngx_http_persona_geo_req_t  *req = data;

    if (req->db) {
        ngx_http_persona_geo_release(req->db);
        req->db = NULL;
    }
}


/*
 * The configuration's pool goes away: on reload or exit in the master,
 * at exit in a worker, which then lets go of the database it swapped in.
 */
static void
ngx_http_persona_geo_cleanup(void *data)
{
    ngx_http_persona_geo_t  *geo = data;

    if (geo->timer.timer_set) {
        ngx_del_timer(&geo->timer);
    }

    if (geo->db) {
        ngx_http_persona_geo_release(geo->db);
        geo->db = NULL;
    }
}


static ngx_int_t
ngx_http_persona_geo_stat(u_char *path, ngx_http_persona_geo_stamp_t *stamp)
{
    ngx_file_info_t  fi;

    if (ngx_file_info(path, &fi) == NGX_FILE_ERROR) {
        ngx_memzero(stamp, sizeof(ngx_http_persona_geo_stamp_t));
        return NGX_ERROR;
    }

    stamp->uniq = ngx_file_uniq(&fi);
    stamp->mtime = ngx_file_mtime(&fi);
    stamp->size = ngx_file_size(&fi);

    return NGX_OK;
}


static ngx_uint_t
ngx_http_persona_geo_same(ngx_http_persona_geo_stamp_t *a,
    ngx_http_persona_geo_stamp_t *b)
{
    return a->uniq == b->uniq && a->mtime == b->mtime && a->size == b->size;
}


static void
ngx_http_persona_geo_timer(ngx_event_t *ev)
{
    ngx_http_persona_geo_t  *geo = ev->data;

    /* a worker on its way out neither reloads nor re-arms */
    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    ngx_http_persona_geo_reload(geo, ev->log);

    ngx_add_timer(ev, geo->interval);
}


static void
ngx_http_persona_geo_reload(ngx_http_persona_geo_t *geo, ngx_log_t *log)
{
    int                            status;
    ngx_err_t                      err;
    ngx_http_persona_geo_db_t     *db;
    ngx_http_persona_geo_stamp_t   stamp;

    if (ngx_http_persona_geo_stat(geo->path.data, &stamp) != NGX_OK) {
        if (!geo->stat_failed) {
            ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                          "persona_geoip2: " ngx_file_info_n " \"%s\" "
                          "failed, keeping the database loaded before",
                          geo->path.data);
            geo->stat_failed = 1;
        }

        return;
    }

    geo->stat_failed = 0;

    if (ngx_http_persona_geo_same(&stamp, &geo->stamp)) {
        geo->bad_set = 0;
        return;
    }

    if (geo->bad_set && ngx_http_persona_geo_same(&stamp, &geo->bad)) {
        /* reported already */
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                   "persona geo: \"%s\" changed, opening it", geo->path.data);

    db = ngx_http_persona_geo_open(geo->path.data, log, &status, &err);

    if (db == NULL) {
        ngx_log_error(NGX_LOG_ERR, log, err,
                      "persona_geoip2: cannot reload \"%s\": %s, "
                      "keeping the database loaded before",
                      geo->path.data, MMDB_strerror(status));
        geo->bad = stamp;
        geo->bad_set = 1;
        return;
    }

    /* closed now, or when the last request that uses it ends */
    ngx_http_persona_geo_release(geo->db);

    geo->db = db;
    geo->stamp = stamp;
    geo->bad_set = 0;

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "persona_geoip2: reloaded \"%s\" (%s, built %uL)",
                  geo->path.data, db->mmdb.metadata.database_type,
                  (uint64_t) db->mmdb.metadata.build_epoch);
}


/* the lookup: the record, and a reference on its database */
static ngx_int_t
ngx_http_persona_geo_lookup(ngx_http_request_t *r,
    ngx_http_persona_geo_t *geo, ngx_http_persona_geo_req_t *req)
{
    int                    status;
    ngx_sockaddr_t         buf;
    struct sockaddr       *sa;
    ngx_pool_cleanup_t    *cln;
    MMDB_lookup_result_s   res;

    if (ngx_http_persona_geo_address(r, geo, &buf, &sa) != NGX_OK) {
        return NGX_ERROR;
    }

    if (sa == NULL) {
        return NGX_OK;
    }

    res = MMDB_lookup_sockaddr(&geo->db->mmdb, sa, &status);

    if (status != MMDB_SUCCESS) {
        if (status != MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR) {
            ngx_http_persona_geo_failure(geo, geo->db, r->connection->log,
                                         "lookup", status);
        }

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "persona geo: no data: %s", MMDB_strerror(status));
        return NGX_OK;
    }

    if (!res.found_entry) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "persona geo: address not in the database");
        return NGX_OK;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_persona_geo_req_cleanup;
    cln->data = req;

    req->db = geo->db;
    req->db->refs++;
    req->entry = res.entry;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "persona geo: record found at offset %uD",
                   (uint32_t) res.entry.offset);

    return NGX_OK;
}


/*
 * The address to look up: source= when set (an IPv4 or IPv6 address,
 * anything else has no data), else the client address, which the realip
 * module has already rewritten when it trusts the peer.  An IPv4-mapped
 * IPv6 address is looked up as IPv4.  *sap = NULL: nothing to look up.
 */
static ngx_int_t
ngx_http_persona_geo_address(ngx_http_request_t *r,
    ngx_http_persona_geo_t *geo, ngx_sockaddr_t *buf, struct sockaddr **sap)
{
    u_char               *p, *last;
    in_addr_t             addr;
    ngx_str_t             text;
    struct sockaddr      *sa;
#if (NGX_HAVE_INET6)
    u_char                v4[4];
    struct sockaddr_in6  *sin6;
#endif

    *sap = NULL;

    ngx_memzero(buf, sizeof(ngx_sockaddr_t));

    if (geo->source == NULL) {
        sa = r->connection->sockaddr;

    } else {
        if (ngx_http_complex_value(r, geo->source, &text) != NGX_OK) {
            return NGX_ERROR;
        }

        p = text.data;
        last = p + text.len;

        while (p < last && (*p == ' ' || *p == '\t')) {
            p++;
        }

        while (last > p && (last[-1] == ' ' || last[-1] == '\t')) {
            last--;
        }

        if (p == last) {
            return NGX_OK;
        }

        sa = &buf->sockaddr;

        addr = ngx_inet_addr(p, last - p);

        if (addr != INADDR_NONE) {
            buf->sockaddr_in.sin_family = AF_INET;
            buf->sockaddr_in.sin_addr.s_addr = addr;

#if (NGX_HAVE_INET6)
        } else if (ngx_inet6_addr(p, last - p,
                                  buf->sockaddr_in6.sin6_addr.s6_addr)
                   == NGX_OK)
        {
            buf->sockaddr_in6.sin6_family = AF_INET6;
#endif

        } else {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "persona geo: source \"%V\" is not an address",
                           &text);
            return NGX_OK;
        }
    }

    switch (sa->sa_family) {

    case AF_INET:
        *sap = sa;
        return NGX_OK;

#if (NGX_HAVE_INET6)
    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) sa;

        if (!IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
            *sap = sa;
            return NGX_OK;
        }

        ngx_memcpy(v4, &sin6->sin6_addr.s6_addr[12], 4);

        ngx_memzero(buf, sizeof(ngx_sockaddr_t));
        buf->sockaddr_in.sin_family = AF_INET;
        ngx_memcpy(&buf->sockaddr_in.sin_addr, v4, 4);

        *sap = &buf->sockaddr;
        return NGX_OK;
#endif

    default:
        /* unix sockets */
        return NGX_OK;
    }
}


/*
 * One field of the request's record into value (empty when absent).
 * Latitude, longitude and time zone are read from the record's "location"
 * map, looked up once: each read from the top of the record walks (and
 * decodes) every map before the one it wants.
 */
static ngx_int_t
ngx_http_persona_geo_read(ngx_http_request_t *r, ngx_http_persona_geo_t *geo,
    ngx_http_persona_geo_req_t *req, const persona_geo_field_t *f,
    ngx_str_t *value)
{
    u_char              *p;
    double               d;
    ngx_int_t            rc;
    MMDB_entry_s        *start;
    MMDB_entry_data_s    data;
    const char *const   *path;

    start = &req->entry;
    path = f->path;

    if (f->in_location) {

        if (req->location_state == NGX_HTTP_PERSONA_GEO_UNKNOWN) {
            rc = ngx_http_persona_geo_get_value(r, geo, req, &req->entry,
                                                ngx_http_persona_geo_location,
                                                &data);

            if (rc == NGX_OK && data.type == MMDB_DATA_TYPE_MAP) {
                /* a map's offset is where a lookup can start from */
                req->location.mmdb = req->entry.mmdb;
                req->location.offset = data.offset;
                req->location_state = NGX_HTTP_PERSONA_GEO_FOUND;

            } else {
                req->location_state = NGX_HTTP_PERSONA_GEO_ABSENT;
            }
        }

        if (req->location_state == NGX_HTTP_PERSONA_GEO_ABSENT) {
            return NGX_OK;
        }

        start = &req->location;
        path = f->path + 1;
    }

    if (ngx_http_persona_geo_get_value(r, geo, req, start, path, &data)
        != NGX_OK)
    {
        return NGX_OK;
    }

    if (f->type == PERSONA_GEO_TEXT) {
        if (data.type != MMDB_DATA_TYPE_UTF8_STRING || data.data_size == 0) {
            return NGX_OK;
        }

        /* not NUL-terminated: data_size counts */
        p = ngx_pnalloc(r->pool, data.data_size);
        if (p == NULL) {
            return NGX_ERROR;
        }

        value->len = persona_geo_copy_text((char *) p, data.utf8_string,
                                           data.data_size);
        value->data = p;

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "persona geo: %s \"%V\"", f->name.data, value);

        return NGX_OK;
    }

    switch (data.type) {

    case MMDB_DATA_TYPE_DOUBLE:
        d = data.double_value;
        break;

    case MMDB_DATA_TYPE_FLOAT:
        d = data.float_value;
        break;

    default:
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, PERSONA_GEO_COORD_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    value->len = persona_geo_format_coord(d, (char *) p,
                                          PERSONA_GEO_COORD_LEN);
    value->data = p;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "persona geo: %s \"%V\"", f->name.data, value);

    return NGX_OK;
}


/* MMDB_aget_value: NGX_OK with data, or NGX_DECLINED (no such data) */
static ngx_int_t
ngx_http_persona_geo_get_value(ngx_http_request_t *r,
    ngx_http_persona_geo_t *geo, ngx_http_persona_geo_req_t *req,
    MMDB_entry_s *start, const char *const *path, MMDB_entry_data_s *data)
{
    int  status;

    status = MMDB_aget_value(start, data, path);

    if (status == MMDB_SUCCESS) {
        return data->has_data ? NGX_OK : NGX_DECLINED;
    }

    if (status != MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR
        && status != MMDB_INVALID_LOOKUP_PATH_ERROR)
    {
        ngx_http_persona_geo_failure(geo, req->db, r->connection->log,
                                     "data", status);
    }

    return NGX_DECLINED;
}


/* a damaged database: said once per database, the request goes on */
static void
ngx_http_persona_geo_failure(ngx_http_persona_geo_t *geo,
    ngx_http_persona_geo_db_t *db, ngx_log_t *log, const char *what,
    int status)
{
    if (db->failure_logged) {
        return;
    }

    db->failure_logged = 1;

    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "persona_geoip2: %s error in \"%s\": %s, "
                  "its fields are empty", what, geo->path.data,
                  MMDB_strerror(status));
}
