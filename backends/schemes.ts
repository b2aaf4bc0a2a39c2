// Side-effect module: registers the remote backends with the registry. Each backend module calls
// registerScheme() when imported.
import './onedrive/register.js';
import './sftp/sftp.js';
