//! The standard input of a shell session (what `cat` reads): the exec session's, or none.
use std::future::Future;
use std::pin::Pin;

/// Where `cat` reads its standard input from (the exec session).
pub trait Stdin: Send {
    /// Bytes typed until end of input (Ctrl-D at the start of a line, or the connection
    /// closing).
    fn read_to_eof(&mut self) -> Pin<Box<dyn Future<Output = Vec<u8>> + Send + '_>>;
}

/// A stdin that is already at its end.
#[derive(Debug, Default)]
pub struct NoStdin;

impl Stdin for NoStdin {
    fn read_to_eof(&mut self) -> Pin<Box<dyn Future<Output = Vec<u8>> + Send + '_>> {
        Box::pin(async { Vec::new() })
    }
}
