namespace Lm.Runtime.Hub;

/// <summary>
/// What the hub's <c>HEAD /{repo}/resolve/{revision}/{file}</c> announces about a file: the commit the revision
/// resolved to (<c>X-Repo-Commit</c>), the content id (<c>X-Linked-Etag</c> for LFS files = their sha256, else
/// <c>ETag</c> = the git blob sha1), the size (<c>X-Linked-Size</c>, else <c>Content-Length</c>) and where the bytes
/// are served from (the CDN address of a redirect, else the resolve address itself).
/// </summary>
public sealed record HubFileMetadata(string Commit, string Etag, long? Size, Uri Location);
