//! Registration of the virtual Node and its status (server-side apply).
