//! The API description against the running server: the served OpenAPI document must be valid,
//! and a short schemathesis run must find the server keeping to it.

use std::{
    fs::{self, File},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Stdio},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use crate::{cmd, run, succeeds};

/// The venv of the two Python tools, and the server's scratch folder and log.
const VENV: &str = "target/tools/api-venv";
const RUN_DIR: &str = "target/tools/api-server";

#[rustfmt::skip]
const PIP_INSTALL: &[&str] = &[
    "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
    "openapi-spec-validator>=0.7,<0.8",
    "schemathesis>=4.30,<5",
];

/// Which schemathesis checks run, and why these:
/// - `not_a_server_error`: no input may give a 5xx; bad input is a 4xx problem.
/// - `status_code_conformance`: every status the server answers is documented.
/// - `content_type_conformance`: answers carry the documented media type (errors are
///   `application/problem+json`, not `application/json`).
/// - `response_headers_conformance` and `response_schema_conformance`: documented headers are
///   sent and bodies match their schemas.
///
/// Not run: the checks that need a signed-in user or stored resources to mean anything
/// (`use_after_free`, `ensure_resource_availability`, `ignored_auth`,
/// `object_level_authorization`), since the run has no account; and `negative_data_rejection`
/// and `positive_data_acceptance`, which read the schema as the whole validation, while the
/// server also checks what a schema cannot say (an address's syntax, a code's alphabet, a
/// token's signature).
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_headers_conformance,response_schema_conformance";

/// A few examples per operation and about a minute in all: enough to catch a 5xx or a wrong
/// media type, short enough for every CI run.
#[rustfmt::skip]
const SCHEMATHESIS: &[&str] = &[
    "--checks", CHECKS,
    "--max-examples", "10",
    "--max-time", "60",
    "--workers", "1",
    "--no-color",
];

/// Whether the venv holds both tools, schemathesis in the major version the flags are for.
const TOOLS_READY: &str = "import openapi_spec_validator, schemathesis
from importlib.metadata import version
assert version('schemathesis').startswith('4.')";

/// Fetches the served document and validates it (the validator's command line reads only files).
const VALIDATE: &str = "import json, sys, urllib.request
from openapi_spec_validator import validate
validate(json.load(urllib.request.urlopen(sys.argv[1])))
print('valid:', sys.argv[1])";

const STARTUP: Duration = Duration::from_secs(30);

pub(crate) fn check(root: &Path) -> Result<()> {
    let python = tools(root)?;
    let bin = root.join("target/debug/auth-server");
    run(cmd("cargo", ["build", "-p", "auth-server"]))?;
    let mut server = Server::start(root, &bin)?;
    let doc = format!("http://{}/openapi.json", server.addr);
    run(cmd(&python, ["-c", VALIDATE]).arg(&doc))?;
    let st = root.join(VENV).join("bin/st");
    let result = run(cmd(&st, ["run"]).arg(&doc).args(SCHEMATHESIS));
    server.stop();
    result
}

/// The venv with both tools, made on first use.
fn tools(root: &Path) -> Result<PathBuf> {
    let venv = root.join(VENV);
    let python = venv.join("bin/python");
    let ready = || {
        // The command line of schemathesis changed in version 4: an older venv is reinstalled.
        succeeds(cmd(&python, ["-c", TOOLS_READY]))
    };
    if !ready() {
        run(cmd("python3", ["-m", "venv", "--clear"]).arg(&venv))?;
        run(cmd(&python, PIP_INSTALL))?;
    }
    Ok(python)
}

/// The server on its embedded defaults (SQLite, in-memory stores, mail to files) in a fresh
/// folder, on a free loopback port that is also its public URL.
struct Server {
    addr: String,
    child: Child,
}

impl Server {
    fn start(root: &Path, bin: &Path) -> Result<Self> {
        let dir = root.join(RUN_DIR);
        if dir.exists() {
            fs::remove_dir_all(&dir)?;
        }
        fs::create_dir_all(&dir)?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let addr = format!("127.0.0.1:{port}");
        let log = File::create(dir.join("server.log"))?;
        let child = cmd(bin, [] as [&str; 0])
            .current_dir(&dir)
            .env("AUTH_SERVER__BIND", &addr)
            .env(
                "AUTH_SERVER__PUBLIC_URL",
                format!("http://localhost:{port}"),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("cannot start the server")?;
        let mut server = Self { addr, child };
        let started = Instant::now();
        while TcpStream::connect(&server.addr).is_err() {
            if let Some(status) = server.child.try_wait()? {
                bail!("the server exited ({status}), see {RUN_DIR}/server.log");
            }
            if started.elapsed() > STARTUP {
                server.stop();
                bail!("the server did not listen within {STARTUP:?}, see {RUN_DIR}/server.log");
            }
            thread::sleep(Duration::from_millis(100));
        }
        Ok(server)
    }

    fn stop(&mut self) {
        // Best effort: it may have exited already, and a leftover would only hold a free port.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
