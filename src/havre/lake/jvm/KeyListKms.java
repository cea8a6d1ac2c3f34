package havre.spark;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.crypto.KeyAccessDeniedException;
import org.apache.parquet.crypto.keytools.KeyToolkit;
import org.apache.parquet.crypto.keytools.KmsClient;

/**
 * Parquet KMS client for Spark: master keys come from the session's configuration
 * ("parquet.encryption.key.list" = "name@version:base64key, ..."), set by Havre from its key
 * store for the versions a job reads. Wrapping is AES-GCM with the identifier as AAD, the form
 * havre.keys.parquet writes (and parquet-java's InMemoryKMS test class), so files written by
 * pyarrow and by Spark read in both.
 */
public class KeyListKms implements KmsClient {
  public static final String KEY_LIST = "parquet.encryption.key.list";
  private final Map<String, byte[]> keys = new HashMap<>();

  @Override
  public void initialize(Configuration conf, String instanceId, String instanceUrl, String token)
      throws KeyAccessDeniedException {
    for (String entry : conf.getTrimmedStrings(KEY_LIST)) {
      int colon = entry.lastIndexOf(':');
      if (colon <= 0) {
        throw new KeyAccessDeniedException("malformed entry in " + KEY_LIST);
      }
      keys.put(entry.substring(0, colon).trim(),
          Base64.getDecoder().decode(entry.substring(colon + 1).trim()));
    }
  }

  private byte[] key(String identifier) throws KeyAccessDeniedException {
    byte[] key = keys.get(identifier);
    if (key == null) {
      throw new KeyAccessDeniedException("no key " + identifier + " given to this session");
    }
    return key;
  }

  @Override
  public String wrapKey(byte[] keyBytes, String identifier) throws KeyAccessDeniedException {
    return KeyToolkit.encryptKeyLocally(
        keyBytes, key(identifier), identifier.getBytes(StandardCharsets.UTF_8));
  }

  @Override
  public byte[] unwrapKey(String wrapped, String identifier) throws KeyAccessDeniedException {
    return KeyToolkit.decryptKeyLocally(
        wrapped, key(identifier), identifier.getBytes(StandardCharsets.UTF_8));
  }
}
