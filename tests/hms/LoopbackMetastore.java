// Test helper: a Hive Metastore (the jars pyspark ships) serving Thrift on 127.0.0.1 only.
// The stock `HiveMetaStore -p PORT` of Hive 2.3 listens on every interface and has no bind-host
// setting, and test servers must stay on loopback. Usage: LoopbackMetastore PORT (hive-site.xml
// on the classpath). Prints "ready" once the socket is bound.
import java.net.InetAddress;
import java.net.InetSocketAddress;
import org.apache.hadoop.hive.conf.HiveConf;
import org.apache.hadoop.hive.metastore.HiveMetaStore;
import org.apache.hadoop.hive.metastore.api.ThriftHiveMetastore;
import org.apache.hadoop.hive.metastore.TSetIpAddressProcessor;
import org.apache.thrift.protocol.TBinaryProtocol;
import org.apache.thrift.server.TThreadPoolServer;
import org.apache.thrift.transport.TServerSocket;
import org.apache.thrift.transport.TTransportFactory;

public class LoopbackMetastore {
  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(args[0]);
    HiveConf conf = new HiveConf(HiveMetaStore.HMSHandler.class);
    ThriftHiveMetastore.Iface handler = HiveMetaStore.newRetryingHMSHandler("loopback metastore", conf, false);
    TServerSocket socket =
        new TServerSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
    TThreadPoolServer.Args serverArgs =
        new TThreadPoolServer.Args(socket)
            .processor(new TSetIpAddressProcessor<ThriftHiveMetastore.Iface>(handler))
            .protocolFactory(new TBinaryProtocol.Factory())
            .transportFactory(new TTransportFactory())
            .minWorkerThreads(2)
            .maxWorkerThreads(64);
    TThreadPoolServer server = new TThreadPoolServer(serverArgs);
    System.out.println("ready");
    System.out.flush();
    server.serve();
  }
}
