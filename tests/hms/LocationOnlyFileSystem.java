// Test helper for LoopbackMetastore: the Hadoop FileSystem the metastore is given for s3a://
// and hdfs:// locations, since pyspark ships no connector for either and none can be installed
// on the test machine. The metastore only asks whether a table's or partition's location is a
// directory (and makes it when not); this answers yes for every path, and refuses any data
// access, so nothing can pass for data that was checked. The tests check the data at the
// recorded location with a client of the store itself.
import java.io.FileNotFoundException;
import java.io.IOException;
import java.net.URI;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.util.Progressable;

public class LocationOnlyFileSystem extends FileSystem {
  private URI uri;
  private Path cwd = new Path("/");

  @Override
  public void initialize(URI name, Configuration conf) throws IOException {
    super.initialize(name, conf);
    uri = URI.create(name.getScheme() + "://" + (name.getAuthority() == null ? "" : name.getAuthority()));
  }

  @Override
  public URI getUri() {
    return uri;
  }

  @Override
  public FileStatus getFileStatus(Path p) {
    return new FileStatus(0, true, 1, 0, 0, p.makeQualified(uri, cwd));
  }

  @Override
  public boolean mkdirs(Path p, FsPermission permission) {
    return true;
  }

  @Override
  public FileStatus[] listStatus(Path p) {
    return new FileStatus[0];
  }

  @Override
  public boolean delete(Path p, boolean recursive) throws IOException {
    throw new IOException("LocationOnlyFileSystem: no data access (delete " + p + ")");
  }

  @Override
  public FSDataInputStream open(Path p, int bufferSize) throws IOException {
    throw new FileNotFoundException("LocationOnlyFileSystem: no data access (open " + p + ")");
  }

  @Override
  public FSDataOutputStream create(Path p, FsPermission permission, boolean overwrite, int bufferSize,
      short replication, long blockSize, Progressable progress) throws IOException {
    throw new IOException("LocationOnlyFileSystem: no data access (create " + p + ")");
  }

  @Override
  public FSDataOutputStream append(Path p, int bufferSize, Progressable progress) throws IOException {
    throw new IOException("LocationOnlyFileSystem: no data access (append " + p + ")");
  }

  @Override
  public boolean rename(Path from, Path to) throws IOException {
    throw new IOException("LocationOnlyFileSystem: no data access (rename " + from + ")");
  }

  @Override
  public void setWorkingDirectory(Path dir) {
    cwd = dir;
  }

  @Override
  public Path getWorkingDirectory() {
    return cwd;
  }
}
