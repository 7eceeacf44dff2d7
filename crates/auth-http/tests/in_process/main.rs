//! The HTTP API in process: the real routes, extractors and middleware over the in-memory adapters
//! and a manual clock, without a socket or a server process. The middle of the test pyramid: the
//! shapes of answers, cookies, same-origin checks, enumeration safety and limits that need time to
//! pass. What needs real stores, several processes or a browser stays in the end-to-end suite.

mod admin;
mod api;
mod app;
mod bad_input;
mod browsers;
mod cross_origin;
mod enumeration;
mod languages;
mod limits;
mod oidc;
mod requests;
