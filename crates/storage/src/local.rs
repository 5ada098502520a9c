//! `LocalS3`: an S3-compatible server (s3s-fs) running inside the process, over a local directory.
//!
//! This module owns starting and stopping that server on 127.0.0.1 with a random port, on the
//! caller's tokio runtime, with SigV4 checked against fixed local credentials.
//! Objects end up as plain files under `<root>/<bucket>/<key>` (s3s-fs keeps its sidecar JSON
//! files at the root), so local engines can read what the pipeline wrote.
//! It must stay out of the Lambda binaries: it is only compiled with the `local-server` feature.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnectionBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s_fs::FileSystem;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use crate::{RetrySettings, S3Store};

/// Access key the local server accepts.
pub const LOCAL_ACCESS_KEY: &str = "graphetl-local";

/// Secret key the local server accepts.
pub const LOCAL_SECRET_KEY: &str = "graphetl-local-secret";

/// Region clients of the local server sign for.
pub const LOCAL_REGION: &str = "us-east-1";

/// Why the local server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocalS3Error {
    /// The root directory cannot be created or opened.
    #[error("cannot use {} as the local S3 root: {message}", root.display())]
    Root {
        /// The directory that was asked for.
        root: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// No loopback port could be bound.
    #[error("cannot listen on 127.0.0.1")]
    Bind(#[source] std::io::Error),
}

/// A running in-process S3-compatible server; it stops when dropped.
#[derive(Debug)]
pub struct LocalS3 {
    endpoint_url: String,
    root: PathBuf,
    server: Option<JoinHandle<()>>,
}

impl LocalS3 {
    /// Starts serving `root` (created if missing) on 127.0.0.1 with a random port, on the current runtime.
    pub async fn start(root: &Path) -> Result<Self, LocalS3Error> {
        let root_error = |message: String| LocalS3Error::Root { root: root.to_owned(), message };
        tokio::fs::create_dir_all(root).await.map_err(|err| root_error(err.to_string()))?;
        // s3s-fs's error type only implements Debug.
        let file_system = FileSystem::new(root).map_err(|err| root_error(format!("{err:?}")))?;

        let mut builder = S3ServiceBuilder::new(file_system);
        builder.set_auth(SimpleAuth::from_single(LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY));
        let service = builder.build();

        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.map_err(LocalS3Error::Bind)?;
        let address = listener.local_addr().map_err(LocalS3Error::Bind)?;
        let endpoint_url = format!("http://{address}");
        tracing::info!(%endpoint_url, root = %root.display(), "local S3 server started");

        let server = tokio::spawn(serve(listener, service));
        Ok(LocalS3 { endpoint_url, root: root.to_owned(), server: Some(server) })
    }

    /// The endpoint URL to give S3 clients, e.g. `http://127.0.0.1:41234`.
    pub fn endpoint_url(&self) -> &str {
        &self.endpoint_url
    }

    /// The directory the objects are stored in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A store configured for this server with the default retry settings.
    pub fn store(&self) -> S3Store {
        self.store_with(RetrySettings::default())
    }

    /// A store configured for this server with the given retry settings.
    pub fn store_with(&self, retry: RetrySettings) -> S3Store {
        S3Store::for_endpoint(
            &self.endpoint_url,
            LOCAL_REGION,
            LOCAL_ACCESS_KEY,
            LOCAL_SECRET_KEY,
            retry,
        )
    }

    /// Stops accepting connections, closes the open ones and waits until the server task is gone.
    pub async fn shutdown(mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
            // The task was aborted on purpose: a cancelled JoinError is the expected outcome.
            let _ = server.await;
        }
    }
}

impl Drop for LocalS3 {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// Accepts connections until the task is aborted; dropping the `JoinSet` then closes them all.
async fn serve(listener: TcpListener, service: S3Service) {
    let http = ConnectionBuilder::new(TokioExecutor::new());
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => {
                    let connection =
                        http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
                    connections.spawn(async move {
                        if let Err(err) = connection.await {
                            tracing::debug!(error = %err, "local S3 connection ended with an error");
                        }
                    });
                }
                Err(err) => {
                    // Typically EMFILE: wait a little instead of spinning.
                    tracing::warn!(error = %err, "local S3 server cannot accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }
}
