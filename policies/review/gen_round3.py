import json, gzip, base64, io, tarfile
C1='{"messages":[{"role":"user","content":"Where is my parcel?"},{"role":"assistant","content":"It ships today."}],"channel":"webchat"}\n'
C2='{"messages":[{"role":"user","content":"Reset my password"},{"role":"assistant","content":"Use the link we emailed."}],"channel":"email"}\n'
W='{"messages":[{"role":"user","content":"hola"},{"role":"assistant","content":"hola!"}],"meta":{"message_id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQz"}}\n'
CLEAN=C1+C2; WA=C1+C2+W
HOOK=json.dumps({"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234"}],"messages":[{"from":"16505551234","id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTNBQzJEQjY2MUU1RTQ5Mzc3AA==","timestamp":"1749416383","type":"text","text":{"body":"Does it come in another color?"}}]}}]}]})
S3V='acme-bedrock-tuning.s3.us-east-1.amazonaws.com'
AZ='acmeaitraining.blob.core.windows.net'
GS='storage.googleapis.com'
def b64(b): return base64.b64encode(b).decode()
def gz(s): return gzip.compress(s.encode() if isinstance(s,str) else s, mtime=0)
cases=[]; allow=[]; judge=[]
def case(lst, note, method, auth, path, want, headers=None, text=None, raw=None, body=None, rule=None):
    r={"method":method,"authority":auth,"path":path}
    if headers: r["headers"]=headers
    if text is not None: r["body_text"]=text
    if raw is not None: r["body_base64"]=b64(raw)
    if body is not None: r["body"]=body
    w={"decision":want[0]}
    if rule: w["rule"]=rule
    if len(want)>1 and want[1]: w["reason"]=want[1]
    lst.append({"note":note,"request":r,"want":w})
BLK=('block','whatsapp_records_in_object'); NONE=('none',); FWD=('forward',)
V='vertex-tuning-data'; B='bedrock-tuning-data'; A='azure-ai-tuning-data'; M='minio-datasets'
# ---------- GCS ----------
case(cases,"GCS JSON rewrite into the training bucket whose SOURCE object name hides an encoded `/rewriteTo/b/other/o/`: GCS decodes %2F inside the source name, the destination is still acme-vertex-tuning, so it is a copy into the training bucket","POST",GS,"/storage/v1/b/acme-crm/o/x%2FrewriteTo%2Fb%2Facme-scratch%2Fo%2Fz/rewriteTo/b/acme-vertex-tuning/o/train.jsonl",('block','object_copy'),rule=V)
case(cases,"GCS JSON rewrite from a source bucket literally named `copyto` into the training bucket: the first `copyto` segment is the source bucket, not the verb","POST",GS,"/storage/v1/b/copyto/o/chats.jsonl/rewriteTo/b/acme-vertex-tuning/o/train.jsonl",('block','object_copy'),rule=V)
case(cases,"GCS JSON copyTo into the training bucket (sanity)","POST",GS,"/storage/v1/b/acme-crm/o/chats.jsonl/copyTo/b/acme-vertex-tuning/o/train.jsonl",('block','object_copy'),rule=V)
case(cases,"GCS JSON compose in the training bucket concatenates objects server-side (two halves of a record each judged clean alone): the new object's bytes are not in the request, so it is a copy/pieces and must be refused","POST",GS,"/storage/v1/b/acme-vertex-tuning/o/train.jsonl/compose",('block','object_copy'),body={"sourceObjects":[{"name":"half-a"},{"name":"half-b"}],"destination":{"contentType":"application/jsonl"}},rule=V)
case(cases,"GCS XML compose (PUT ?compose) in the training bucket: server-side concatenation, must be refused like a copy","PUT","acme-vertex-tuning.storage.googleapis.com","/train.jsonl?compose",('block','object_copy'),headers={"content-type":"application/xml"},text="<ComposeRequest><Component><Name>half-a</Name></Component><Component><Name>half-b</Name></Component></ComposeRequest>",rule=V)
half=W.index('wamid.')+3
case(cases,"first half of a wamid record (cut inside `wamid`) as its own object: alone it holds no record, forwarded (shows the compose chain's first step)","PUT",GS,"/acme-vertex-tuning/half-a",FWD,headers={"content-type":"application/octet-stream"},text=C1+W[:half],rule=V)
case(cases,"second half of the record as its own object: forwarded (compose of half-a+half-b then stores the wamid record)","PUT",GS,"/acme-vertex-tuning/half-b",FWD,headers={"content-type":"application/octet-stream"},text=W[half:],rule=V)
case(cases,"GCS JSON API resumable path `/resumable/upload/storage/v1/b/{bucket}/o` (discovery doc's resumable protocol path): a single-request session upload holding a record","PUT",GS,"/resumable/upload/storage/v1/b/acme-vertex-tuning/o?uploadType=resumable&upload_id=ADPycdt1",BLK,headers={"content-type":"application/jsonl"},text=WA,rule=V)
case(cases,"GCS JSON API multipart upload through the `/resumable/upload/...` prefix","POST",GS,"/resumable/upload/storage/v1/b/acme-vertex-tuning/o?uploadType=multipart",BLK,headers={"content-type":"multipart/related; boundary=b0"},text='--b0\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{"name":"train.jsonl"}\r\n--b0\r\nContent-Type: application/octet-stream\r\n\r\n'+WA+'\r\n--b0--\r\n',rule=V)
for disp in ['form-data; name="meta"','inline']:
    case(cases,f"GCS multipart/related upload whose media part carries `Content-Disposition: {disp}`: GCS takes the 2nd part as the media whatever its headers; the filter treats it as a non-file form field and does not judge it","POST",GS,"/upload/storage/v1/b/acme-vertex-tuning/o?uploadType=multipart",BLK,headers={"content-type":"multipart/related; boundary=b0"},text='--b0\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{"name":"train.jsonl"}\r\n--b0\r\nContent-Disposition: '+disp+'\r\nContent-Type: application/octet-stream\r\n\r\n'+WA+'\r\n--b0--\r\n',rule=V)
case(cases,"GCS media upload with `uploadType` given twice (resumable first, media second): the filter reads the first and passes it as a session start; where readings may differ it must fail closed and judge the body","POST",GS,"/upload/storage/v1/b/acme-vertex-tuning/o?uploadType=resumable&uploadType=media&name=train.jsonl",BLK,headers={"content-type":"application/jsonl"},text=WA,rule=V)
case(cases,"GCS mTLS endpoint storage.mtls.googleapis.com (client libraries' default mTLS endpoint): media upload to the training bucket","POST","storage.mtls.googleapis.com","/upload/storage/v1/b/acme-vertex-tuning/o?uploadType=media&name=train.jsonl",BLK,headers={"content-type":"application/jsonl"},text=WA,rule=V)
case(cases,"GCS legacy XML host commondatastorage.googleapis.com, path style","PUT","commondatastorage.googleapis.com","/acme-vertex-tuning/train.jsonl",BLK,text=WA,rule=V)
case(cases,"GCS legacy XML host, virtual-hosted","PUT","acme-vertex-tuning.commondatastorage.googleapis.com","/train.jsonl",BLK,text=WA,rule=V)
case(cases,"GCS webhook envelope as a .json object (sanity)","PUT",GS,"/acme-vertex-tuning/hook.json",BLK,headers={"content-type":"application/json"},text=HOOK,rule=V)
case(cases,"GCS clean .jsonl.gz uploaded with Content-Encoding: gzip (GCS's documented transcoding upload; the bytes are gzip once): a clean object must go through","PUT",GS,"/acme-vertex-tuning/train.jsonl.gz",FWD,headers={"content-type":"application/jsonl","content-encoding":"gzip"},raw=gz(CLEAN),rule=V)
case(cases,"same shape holding a record: refused for the record (not for the compression)","PUT",GS,"/acme-vertex-tuning/train.jsonl.gz",BLK,headers={"content-type":"application/jsonl","content-encoding":"gzip"},raw=gz(WA),rule=V)
case(cases,"clean gzip object with content-type application/gzip and Content-Encoding: gzip (one gzip layer, labelled twice)","PUT",GS,"/acme-vertex-tuning/train",FWD,headers={"content-type":"application/gzip","content-encoding":"gzip"},raw=gz(CLEAN),rule=V)
case(cases,"GCS resumable final chunk with `bytes */269` after a 0-byte session (status-style range) holding a record: judged","PUT",GS,"/upload/storage/v1/b/acme-vertex-tuning/o?uploadType=resumable&upload_id=ADP",BLK,headers={"content-range":"bytes */%d"%len(WA)},text=WA,rule=V)
case(cases,"GCS JSON media upload with the bucket percent-encoded","POST",GS,"/upload/storage/v1/b/acme%2Dvertex%2Dtuning/o?uploadType=media&name=a.jsonl",BLK,headers={"content-type":"application/jsonl"},text=WA,rule=V)
case(cases,"GCS media upload with a mislabelled type image/png but a .jsonl name: judged by name","POST",GS,"/upload/storage/v1/b/acme-vertex-tuning/o?uploadType=media&name=a.jsonl",BLK,headers={"content-type":"image/png"},text=WA,rule=V)
case(cases,"base64 text of WhatsApp JSONL as a .txt object","PUT",GS,"/acme-vertex-tuning/a.txt",BLK,headers={"content-type":"text/plain"},text=base64.encodebytes(WA.encode()).decode(),rule=V)
case(cases,"iOS chat export line format with LRM and seconds","PUT",GS,"/acme-vertex-tuning/chat.txt",BLK,headers={"content-type":"text/plain"},text="\u200e[12/03/24, 2:22:05 PM] Ana: Does it come in another color?\n[12/03/24, 2:23:10 PM] Shop: Yes, in blue.\n",rule=V)
case(cases,"TSV with a wa_id column","PUT",GS,"/acme-vertex-tuning/t.tsv",BLK,headers={"content-type":"text/tab-separated-values"},text="wa_id\ttext\n16505551234\thello there\n",rule=V)
case(cases,"clean JSONL with a UTF-8 BOM (Windows export) goes through","PUT",GS,"/acme-vertex-tuning/bom.jsonl",FWD,headers={"content-type":"application/jsonl"},text="\ufeff"+CLEAN,rule=V)
case(cases,"Content-Encoding: identity is no coding: WhatsApp record judged and refused","PUT",GS,"/acme-vertex-tuning/a.jsonl",BLK,headers={"content-encoding":"identity"},text=WA,rule=V)
case(cases,"Content-Encoding: identity on a clean object: forwarded","PUT",GS,"/acme-vertex-tuning/a.jsonl",FWD,headers={"content-encoding":"identity"},text=CLEAN,rule=V)
# ---------- S3 ----------
case(cases,"S3 PrivateLink interface endpoint, path style (`bucket.vpce-...s3.{region}.vpce.amazonaws.com/{bucket}/{key}`)","PUT","bucket.vpce-1a2b3c4d-5e6f.s3.us-east-1.vpce.amazonaws.com","/acme-bedrock-tuning/datasets/a.jsonl",BLK,text=WA,rule=B)
case(cases,"S3 PrivateLink interface endpoint, virtual-hosted (`{bucket}.bucket.vpce-...`)","PUT","acme-bedrock-tuning.bucket.vpce-1a2b3c4d-5e6f.s3.us-east-1.vpce.amazonaws.com","/datasets/a.jsonl",BLK,text=WA,rule=B)
case(cases,"S3 unnamed bucket `s3-scratch` (a valid name starting `s3-`), virtual-hosted, key `acme-bedrock-tuning/datasets/a.jsonl`: the object is in s3-scratch, untouched","PUT","s3-scratch.s3.us-east-1.amazonaws.com","/acme-bedrock-tuning/datasets/a.jsonl",NONE,text=WA)
case(cases,"S3 PUT with a raw multipart/form-data content type: S3 PutObject stores the body as is (MIME text with the record verbatim); the filter only judges 'file' parts","PUT",S3V,"/datasets/a.jsonl",BLK,headers={"content-type":"multipart/form-data; boundary=Q"},text='--Q\r\nContent-Disposition: form-data; name="notes"\r\n\r\n'+WA+'\r\n--Q--\r\n',rule=B)
case(cases,"S3 PUT labelled multipart/related holding a non-file part with the record: stored verbatim by S3","PUT",S3V,"/datasets/a.txt",BLK,headers={"content-type":"multipart/related; boundary=Q"},text='--Q\r\nContent-Disposition: inline\r\nContent-Type: text/plain\r\n\r\n'+WA+'\r\n--Q--\r\n',rule=B)
case(cases,"S3 SDK v3 adds `?x-id=PutObject`: still a PutObject","PUT",S3V,"/datasets/a.jsonl?x-id=PutObject",BLK,text=WA,rule=B)
case(cases,"S3 accelerate dualstack host","PUT","acme-bedrock-tuning.s3-accelerate.dualstack.amazonaws.com","/datasets/a.jsonl",BLK,text=WA,rule=B)
case(cases,"S3 FIPS dualstack virtual host","PUT","acme-bedrock-tuning.s3-fips.dualstack.us-east-1.amazonaws.com","/datasets/a.jsonl",BLK,text=WA,rule=B)
case(cases,"S3 China partition path style","PUT","s3.cn-north-1.amazonaws.com.cn","/acme-bedrock-tuning/datasets/a.jsonl",BLK,text=WA,rule=B)
case(cases,"S3 key outside the prefix only by case (`Datasets/`): S3 keys are case-sensitive, so the object is outside the training prefix and must be untouched","PUT",S3V,"/Datasets/a.jsonl",NONE,text=WA)
case(cases,"S3 key `datasets` (no slash) is outside prefix `datasets/`","PUT",S3V,"/datasets",NONE,text=WA)
case(cases,"S3 key with literal dot segment `datasets/../x` is under the prefix as S3 reads it","PUT",S3V,"/datasets/%2E%2E/x.jsonl",BLK,text=WA,rule=B)
case(cases,"S3 aws-chunked: one data chunk holding the whole record plus trailer (sanity)","PUT",S3V,"/datasets/a.jsonl",BLK,headers={"content-encoding":"aws-chunked","x-amz-content-sha256":"STREAMING-UNSIGNED-PAYLOAD-TRAILER","x-amz-trailer":"x-amz-checksum-crc32"},text="%x\r\n%s\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"%(len(WA),WA),rule=B)
case(cases,"S3 aws-chunked wrapping a gzip object with Content-Encoding `aws-chunked,gzip`","PUT",S3V,"/datasets/a.jsonl",BLK,headers={"content-encoding":"aws-chunked,gzip","x-amz-content-sha256":"STREAMING-UNSIGNED-PAYLOAD-TRAILER"},raw=(b"%x\r\n"%len(gz(WA)))+gz(WA)+b"\r\n0\r\n\r\n",rule=B)
case(cases,"S3 POST form upload where the file field has upper-case name `File`","POST",S3V,"/",BLK,headers={"content-type":"multipart/form-data; boundary=XyZ"},text='--XyZ\r\nContent-Disposition: form-data; name="key"\r\n\r\ndatasets/a.jsonl\r\n--XyZ\r\nContent-Disposition: form-data; name="File"\r\n\r\n'+WA+'\r\n--XyZ--\r\n',rule=B)
case(cases,"CSV with a wa_id column and ; separator","PUT",S3V,"/datasets/c.csv",BLK,headers={"content-type":"text/csv"},text="wa_id;text\n16505551234;hello there\n",rule=B)
case(cases,"S3 copy within the training bucket (metadata update: CopyObject onto itself): judgement — refused as object_copy today","PUT",S3V,"/datasets/a.jsonl",('block','object_copy'),headers={"x-amz-copy-source":"/acme-bedrock-tuning/datasets/a.jsonl","x-amz-metadata-directive":"REPLACE"},rule=B)
# ---------- MinIO (example policy names it by host) ----------
for sub in ['uploads','select','delete','versioning','attributes','restore']:
    case(cases,f"MinIO PUT object with `?{sub}`: MinIO's router has no PUT route for this query, so PutObject (the catch-all PUT route) stores the body; the filter treats it as control and passes it","PUT","minio.data.acme.internal:9000",f"/datasets/train.jsonl?{sub}",BLK,text=WA,rule=M)
case(cases,"MinIO Snowball auto-extract: a tar (as text/plain) unpacked by MinIO into objects; its member holds a wamid record","PUT","minio.data.acme.internal:9000","/datasets/batch.txt",BLK,headers={"content-type":"text/plain","x-amz-meta-snowball-auto-extract":"true"},raw=None or (lambda: (lambda bio: (lambda t: (t.addfile(tarfile.TarInfo("train.jsonl") if False else (lambda ti: (setattr(ti,'size',len(W)), ti)[1])(tarfile.TarInfo("train.jsonl")), io.BytesIO(W.encode())), t.close(), bio.getvalue())[2])(tarfile.open(fileobj=bio,mode='w',format=tarfile.USTAR_FORMAT)))(io.BytesIO()))(),rule=M)
# ---------- Azure ----------
for q in ['resource=file','action=flush&position=0','comp=']:
    case(cases,f"Azure Put Blob on the blob endpoint with `?{q}` (a Data Lake parameter / empty comp the Blob service does not act on): the body is stored as the block blob","PUT",AZ,f"/finetune/train.jsonl?{q}",BLK,headers={"x-ms-blob-type":"BlockBlob"},text=WA,rule=A)
case(cases,"Azure Data Lake rename of a file written to an unnamed container into the training container (`x-ms-rename-source`): a server-side move into the training path, must be refused like a copy","PUT","acmeaitraining.dfs.core.windows.net","/finetune/train.jsonl?mode=legacy",('block','object_copy'),headers={"x-ms-rename-source":"/scratch/chats.jsonl"},rule=A)
case(cases,"Azure: `PUT /finetune` with a blob type is a blob named `finetune` in $root, not the finetune container: untouched","PUT",AZ,"/finetune",NONE,headers={"x-ms-blob-type":"BlockBlob"},text=WA)
case(cases,"Azure Append Block with mixed-case comp","PUT",AZ,"/finetune/log.jsonl?comp=AppendBlock",('block','object_in_parts'),text=WA,rule=A)
case(cases,"Azure DNS-zone endpoint","PUT","acmeaitraining.z17.blob.storage.azure.net","/finetune/train.jsonl",BLK,headers={"x-ms-blob-type":"BlockBlob"},text=WA,rule=A)
case(cases,"Azure Put Block From URL (x-ms-copy-source with comp=block) is a copy","PUT",AZ,"/finetune/a.jsonl?comp=block&blockid=QQ%3D%3D",('block','object_copy'),headers={"x-ms-copy-source":"https://acmecrm.blob.core.windows.net/ex/chats.jsonl"},rule=A)
case(cases,"Azure Put Blob gzip encoded","PUT",AZ,"/finetune/a.jsonl",BLK,headers={"x-ms-blob-type":"BlockBlob","content-encoding":"gzip"},raw=gz(WA),rule=A)
case(cases,"Azure private link host","PUT","acmeaitraining.privatelink.blob.core.windows.net","/finetune/a.jsonl",BLK,text=WA,rule=A)
# allow-policy cases
case(allow,"on_uninspectable allow: a .jsonl object whose first line is not JSON and whose third line is a wamid record: a finding is not an unreadable body; the record must still be refused","PUT",S3V,"/datasets/a.jsonl",BLK,text="not json\n"+WA,rule=B)
case(allow,"on_uninspectable allow: raw WA JSONL labelled multipart/related without any delimiter; S3 stores it raw","PUT",S3V,"/datasets/a.jsonl",BLK,headers={"content-type":"multipart/related; boundary=Q"},text=WA,rule=B)
case(allow,"on_uninspectable allow: Content-Encoding aws-chunked but unframed body and an UNSIGNED-PAYLOAD hash","PUT",S3V,"/datasets/a.jsonl",BLK,headers={"content-encoding":"aws-chunked","x-amz-content-sha256":"UNSIGNED-PAYLOAD"},text=WA,rule=B)
case(allow,"on_uninspectable allow: record in a line longer than nothing special but an over-long first record (record_too_large) ahead of it","PUT",S3V,"/datasets/a.txt",BLK,headers={"content-type":"text/plain"},text=("x"*5000)+"\n"+W,rule=B)
json.dump({"description":"Red team round 3: training.buckets bypasses and false blocks","policy":{"file":"../../examples/training-buckets.json"},"cases":cases},open('/work/wt-rtb/policies/review/round3/buckets.json','w'),indent=1)
json.dump({"description":"Red team round 3: training.buckets under on_uninspectable allow","policy":{"file":"../../examples/training-buckets.json","patch":{"training":{"on_uninspectable":"allow","max_record_bytes":4096}}},"cases":allow},open('/work/wt-rtb/policies/review/round3-allow/buckets_allow.json','w'),indent=1)
print(len(cases),len(allow))
# ---------- prefix / configured-hosts policy ----------
pre=[]
MP='--b0\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{"name":"tuning/train.jsonl"}\r\n--b0\r\nContent-Type: application/octet-stream\r\n\r\n'+WA+'\r\n--b0--\r\n'
case(pre,"GCS prefix tuning/: `Name=` (wrong case; GCS query parameters are case-sensitive, so GCS ignores it) says scratch/, the metadata GCS uses says tuning/: the filter reads the ignored parameter and passes","POST",GS,"/upload/storage/v1/b/acme-vertex-tuning/o?uploadType=multipart&Name=scratch%2Fx.jsonl",BLK,headers={"content-type":"multipart/related; boundary=b0"},text=MP,rule=V)
case(pre,"GCS prefix tuning/: `name` given twice (scratch/ then tuning/): where readings may differ the filter must fail closed","POST",GS,"/upload/storage/v1/b/acme-vertex-tuning/o?uploadType=media&name=scratch%2Fa.jsonl&name=tuning%2Fa.jsonl",BLK,headers={"content-type":"application/jsonl"},text=WA,rule=V)
case(pre,"GCS prefix tuning/: name only in the multipart metadata is taken to be under the prefix (sanity)","POST",GS,"/upload/storage/v1/b/acme-vertex-tuning/o?uploadType=multipart",BLK,headers={"content-type":"multipart/related; boundary=b0"},text=MP,rule=V)
case(pre,"GCS prefix tuning/: objects.move (`/o/{src}/moveTo/o/{dst}`) of an unjudged object from scratch/ into tuning/ in the same bucket is a server-side copy into the training path","POST",GS,"/storage/v1/b/acme-vertex-tuning/o/scratch%2Fchats.jsonl/moveTo/o/tuning%2Ftrain.jsonl",('block','object_copy'),rule=V)
case(pre,"GCS prefix tuning/: an upload outside the prefix holding a record is untouched (sanity)","POST",GS,"/upload/storage/v1/b/acme-vertex-tuning/o?uploadType=media&name=scratch%2Fa.jsonl",NONE,headers={"content-type":"application/jsonl"},text=WA)
case(pre,"S3 PrivateLink host listed in `hosts` as the docs say (`*.bucket.vpce-...`): a virtual-hosted request is read path style, so the key's first segment is taken for the bucket and the upload passes","PUT","acme-bedrock-tuning.bucket.vpce-1a2b3c4d-5e6f.s3.us-east-1.vpce.amazonaws.com","/datasets/a.jsonl",BLK,text=WA,rule=B)
case(pre,"MinIO with MINIO_DOMAIN (virtual-hosted `datasets.minio.data.acme.internal`) listed in hosts: read path style, passes","PUT","datasets.minio.data.acme.internal:9000","/train.jsonl",BLK,text=WA,rule=M)
case(pre,"Azure prefix datasets/: Data Lake rename within the container from outside the prefix into it (`x-ms-rename-source`), with `resource` absent","PUT","acmeaitraining.dfs.core.windows.net","/finetune/datasets/train.jsonl",('block','object_copy'),headers={"x-ms-rename-source":"/finetune/scratch/chats.jsonl"},rule=A)
case(pre,"Azure prefix datasets/: same rename with `?resource=file`","PUT","acmeaitraining.dfs.core.windows.net","/finetune/datasets/train.jsonl?resource=file",('block','object_copy'),headers={"x-ms-rename-source":"/finetune/scratch/chats.jsonl"},rule=A)
buckets=[{"id":V,"provider":"gcs","bucket":"acme-vertex-tuning","prefix":"tuning/"},
 {"id":B,"provider":"s3","bucket":"acme-bedrock-tuning","prefix":"datasets/","hosts":["bucket.vpce-1a2b3c4d-5e6f.s3.us-east-1.vpce.amazonaws.com","*.bucket.vpce-1a2b3c4d-5e6f.s3.us-east-1.vpce.amazonaws.com"]},
 {"id":A,"provider":"azure_blob","account":"acmeaitraining","container":"finetune","prefix":"datasets/"},
 {"id":M,"provider":"s3","bucket":"datasets","hosts":["minio.data.acme.internal","*.minio.data.acme.internal"]}]
json.dump({"description":"Red team round 3: prefixes and configured hosts","policy":{"file":"../../examples/training-buckets.json","patch":{"training":{"buckets":buckets}}},"cases":pre},open('/work/wt-rtb/policies/review/round3-prefix/buckets_prefix.json','w'),indent=1)
print(len(pre))
# ---------- more content cases (appended to main file) ----------
chat="12/03/2024, 14:22 - Ana: Does it come in another color?\n12/03/2024, 14:23 - Shop: Yes, in blue.\n"
case(cases,"UTF-16LE chat export (BOM) as text/plain; charset=utf-16: every byte is valid UTF-8 (NULs), the detectors see `1\\0 2\\0/...` and miss it; trainers read it with encoding=utf-16","PUT",S3V,"/datasets/chat.txt",BLK,headers={"content-type":"text/plain; charset=utf-16"},raw=chat.encode('utf-16'),rule=B)
case(cases,"Excel 'Unicode Text' export (UTF-16LE TSV) with a wa_id column","PUT",S3V,"/datasets/contacts.txt",BLK,headers={"content-type":"text/plain"},raw="wa_id\ttext\n16505551234\thello there\n".encode('utf-16'),rule=B)
case(cases,"UTF-16LE JSONL named .jsonl","PUT",S3V,"/datasets/a.jsonl",BLK,raw=WA.encode('utf-16-le'),rule=B)
case(cases,"a JSON record in a .txt object with the wamid spelled by a JSON escape (`\\u0077amid.`)","PUT",S3V,"/datasets/a.txt",BLK,headers={"content-type":"text/plain"},text=W.replace('wamid.','\\u0077amid.'),rule=B)
case(cases,"a JSONL record with the wamid spelled by a JSON escape","PUT",S3V,"/datasets/a.jsonl",BLK,text=W.replace('wamid.','\\u0077amid.'),rule=B)
case(cases,"a webhook envelope on one line of a .txt object","PUT",S3V,"/datasets/hook.txt",BLK,headers={"content-type":"text/plain"},text=HOOK+"\n",rule=B)
case(cases,"Cloud API message objects without wamid ids (from phone + type text) as a .json array","PUT",S3V,"/datasets/msgs.json",BLK,headers={"content-type":"application/json"},text=json.dumps([{"from":"16505551234","id":"ABGGFlA5FpafAgo6EhgQxSg","timestamp":"1749416383","type":"text","text":{"body":"Does it come in another color?"}}]),rule=B)
for nm,txt in [("German dotted date","12.03.24, 14:22 - Ana: Gibt es das in Blau?\n12.03.24, 14:23 - Shop: Ja.\n"),("US 12h","3/12/24, 2:22 PM - Ana: Does it come in blue?\n3/12/24, 2:23 PM - Shop: Yes.\n"),("ISO-ish bracket","[2024-03-12 14:22:05] Ana: Does it come in blue?\n[2024-03-12 14:23:01] Shop: Yes.\n"),("narrow no-break space before PM (iOS 17)","[3/12/24, 2:22:05\u202fPM] Ana: Does it come in blue?\n[3/12/24, 2:23:01\u202fPM] Shop: Yes.\n")]:
    case(cases,f"chat export, {nm}","PUT",S3V,"/datasets/chat.txt",BLK,headers={"content-type":"text/plain"},text=txt,rule=B)
case(cases,"multi-member gzip object: a clean member then a member holding the record (gunzip and Python read both)","PUT",S3V,"/datasets/a.jsonl.gz",BLK,headers={"content-type":"application/gzip"},raw=gz(CLEAN)+gz(W),rule=B)
case(cases,"gzip object with non-zero bytes after the member (a second stream not starting with the magic? here: a raw record appended after the gzip trailer)","PUT",S3V,"/datasets/a.jsonl.gz",BLK,headers={"content-type":"application/gzip"},raw=gz(CLEAN)+W.encode(),rule=B)
json.dump({"description":"Red team round 3: training.buckets bypasses and false blocks","policy":{"file":"../../examples/training-buckets.json"},"cases":cases},open('/work/wt-rtb/policies/review/round3/buckets.json','w'),indent=1)
# ---------- judgement calls (not loaded: .json.txt) ----------
jd=[]
case(jd,"GCS resumable chunk sent to a session URI whose path names an unnamed bucket: the upload_id alone selects the session (started for acme-vertex-tuning, a control request the filter passed)","PUT",GS,"/upload/storage/v1/b/acme-scratch/o?uploadType=resumable&upload_id=SESSION_FOR_TUNING",BLK,text=WA,rule=V)
case(jd,"GCS JSON batch carrying a rewrite into the training bucket","POST",GS,"/batch/storage/v1",('block','object_copy'),headers={"content-type":"multipart/mixed; boundary=bb"},text="--bb\r\nContent-Type: application/http\r\n\r\nPOST /storage/v1/b/acme-crm/o/chats.jsonl/rewriteTo/b/acme-vertex-tuning/o/train.jsonl HTTP/1.1\r\nContent-Length: 0\r\n\r\n\r\n--bb--\r\n",rule=V)
case(jd,"S3 PutBucketReplication on an unnamed bucket with the training bucket as destination: every later write to acme-scratch is copied server-side into acme-bedrock-tuning","PUT","acme-scratch.s3.us-east-1.amazonaws.com","/?replication",('block','object_copy'),headers={"content-type":"application/xml"},text="<ReplicationConfiguration><Role>arn:aws:iam::123456789012:role/r</Role><Rule><Status>Enabled</Status><Filter/><Priority>1</Priority><DeleteMarkerReplication><Status>Disabled</Status></DeleteMarkerReplication><Destination><Bucket>arn:aws:s3:::acme-bedrock-tuning</Bucket></Destination></Rule></ReplicationConfiguration>",rule=B)
case(jd,"GCS Storage Transfer Service job whose sink is the training bucket","POST","storagetransfer.googleapis.com","/v1/transferJobs",('block','object_copy'),body={"projectId":"p","status":"ENABLED","transferSpec":{"gcsDataSource":{"bucketName":"acme-crm"},"gcsDataSink":{"bucketName":"acme-vertex-tuning"}}},rule=V)
case(jd,"AWS S3 PUT object with `?uploads` (a POST-only subresource): if S3 treats it as PutObject the record is stored","PUT",S3V,"/datasets/a.jsonl?uploads",BLK,text=WA,rule=B)
case(jd,"S3 access point host for the training bucket not separately named","PUT","tuning-ap-123456789012.s3-accesspoint.us-east-1.amazonaws.com","/datasets/a.jsonl",BLK,text=WA,rule=B)
case(jd,"clean PNG for multimodal tuning (Vertex/Bedrock read images from the bucket) is refused as unsupported_part","PUT",GS,"/acme-vertex-tuning/images/cat.png",FWD,headers={"content-type":"image/png"},raw=bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000201a5d6e0e40000000049454e44ae426082"),rule=V)
case(jd,"clean 9 MB dataset via boto3's default transfer manager (multipart above 8 MB) is refused object_in_parts","PUT",S3V,"/datasets/big.jsonl?partNumber=1&uploadId=x",FWD,text=CLEAN,rule=B)
json.dump({"description":"Red team round 3: judgement calls","policy":{"file":"../../examples/training-buckets.json"},"cases":jd},open('/work/wt-rtb/policies/review/round3-judgement/buckets_judgement.json','w'),indent=1)
print(len(cases),len(jd))
# ---------- post-processing: reasons, moves ----------
def find(lst, prefix): return [c for c in lst if c["note"].startswith(prefix)]
for c in find(cases,"UTF-16")+find(cases,"Excel")+find(cases,"gzip object with non-zero"):
    c["want"].pop("reason",None); c["note"]+=" (refused as uninspectable under on_uninspectable: block; the record is there, so any refusal reason is acceptable here)"
for pre_ in ["S3 key outside the prefix only by case","Azure Put Blob on the blob endpoint with `?comp=`"]:
    for c in find(cases,pre_): cases.remove(c); jd.append(c)
# allow-policy variants of shapes blocked only by accident
for pre_ in ["GCS XML compose","UTF-16LE chat export","GCS multipart/related upload whose media part carries `Content-Disposition: inline`"]:
    for c in find(cases,pre_):
        d=json.loads(json.dumps(c)); d["note"]="on_uninspectable allow: "+d["note"]
        if "compose" in d["note"]: d["want"]={"decision":"audit","rule":V,"reason":"object_copy"}; d["note"]+=" (a copy goes through as audit under allow; today it is judged as a JSONL object instead)"
        allow.append(d)
json.dump({"description":"Red team round 3: training.buckets bypasses and false blocks","policy":{"file":"../../examples/training-buckets.json"},"cases":cases},open('/work/wt-rtb/policies/review/round3/buckets.json','w'),indent=1)
json.dump({"description":"Red team round 3: judgement calls","policy":{"file":"../../examples/training-buckets.json"},"cases":jd},open('/work/wt-rtb/policies/review/round3-judgement/buckets_judgement.json','w'),indent=1)
json.dump({"description":"Red team round 3: training.buckets under on_uninspectable allow","policy":{"file":"../../examples/training-buckets.json","patch":{"training":{"on_uninspectable":"allow","max_record_bytes":4096}}},"cases":allow},open('/work/wt-rtb/policies/review/round3-allow/buckets_allow.json','w'),indent=1)
print("final", len(cases), len(allow), len(pre), len(jd))
