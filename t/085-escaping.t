# Escaping by context (SPEC "Blocks") and where markers count (SPEC
# "Where markers count"): hostile args in text, quoted and URL attributes
# and comments of blocks; templates where no escaping is safe fail
# `nginx -t` and persona-check with file:line:column; markers and the
# data layer's </head> inside scripts, textareas, titles and tags of the
# page are left alone, also when the page comes in tiny pieces; blank
# values take the fallback; invalid UTF-8 and control bytes are dropped.
use Test::Nginx::Socket 'no_plan';
use File::Temp qw(tempdir);

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

# ---- load-time errors: nginx -t and persona-check say the same --------

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} || '');
my $check = 'build/persona-check';
my $dir = tempdir(CLEANUP => 1);
mkdir "$dir/$_" for qw(conf logs blocks);

sub write_file {
    my ($name, $text) = @_;
    open my $fh, '>', "$dir/$name" or die "$dir/$name: $!";
    print $fh $text;
    close $fh;
}

sub nginx_t {
    my ($rules) = @_;
    my $load = join '', map { "load_module $_;\n" } @modules;
    write_file('conf/nginx.conf', <<"CONF");
$load
error_log logs/error.log;
pid logs/nginx.pid;
events { worker_connections 64; }
http {
    client_body_temp_path $dir/tmp_body;
    proxy_temp_path $dir/tmp_proxy;
    fastcgi_temp_path $dir/tmp_fastcgi;
    uwsgi_temp_path $dir/tmp_uwsgi;
    scgi_temp_path $dir/tmp_scgi;
    persona_redis 127.0.0.1:1;
    persona_rules $dir/$rules;
}
CONF
    return scalar `$nginx -p $dir/ -c conf/nginx.conf -t 2>&1`;
}

write_file('script.json', <<'JSON');
{
  "segments": [ { "name": "a", "when": { "arg.a": "1" } } ],
  "experiences": {
    "a": { "blocks": { "hero": "<h1>Hi</h1><script>var q = \"{{arg.q}}\";</script>" } }
  }
}
JSON
write_file('blocks/img.html', qq{<div>\n  <img src={{arg.x}}>\n</div>\n});
write_file('unquoted.json', <<'JSON');
{
  "segments": [ { "name": "a", "when": { "arg.a": "1" } } ],
  "experiences": { "a": { "blocks": { "img": { "file": "blocks/img.html" } } } }
}
JSON
write_file('onclick.json', <<'JSON');
{
  "segments": [ { "name": "a", "when": { "arg.a": "1" } } ],
  "experiences": {
    "a": { "blocks": { "b": "<button onclick=\"go('{{arg.next}}')\">Go</button>" } }
  }
}
JSON
write_file('good.json', <<'JSON');
{
  "segments": [ { "name": "a", "when": { "arg.a": "1" } } ],
  "experiences": {
    "a": { "blocks": { "b": "<a href=\"{{arg.next|/}}\" title='{{arg.t}}'>{{arg.t}}</a>" } }
  }
}
JSON

my @load_cases = (
    [ 'script.json', "script.json:4:62",
      qr/a template inside <script> is not allowed/ ],
    [ 'unquoted.json', "blocks/img.html:2:12",
      qr/a template in an unquoted attribute value is not allowed/ ],
    [ 'onclick.json', "onclick.json:4:52",
      qr/a template in the event handler attribute "onclick" is not allowed/ ],
);

for my $c (@load_cases) {
    my ($file, $pos, $msg) = @$c;
    my $out = nginx_t($file);
    like($out, qr/persona_rules: \Q$dir\/$pos\E: $msg/,
         "nginx -t: $file names $pos");
    like($out, qr/test failed/, "nginx -t: $file fails");
    $out = `cd $dir && $ENV{PWD}/$check $file 2>&1`;
    like($out, qr/^\Q$pos\E: $msg/m, "persona-check: $file names $pos");
}

like(nginx_t('good.json'), qr/test is successful/,
     'nginx -t: templates in text, quoted and URL attributes load');

# ---- requests -----------------------------------------------------------

our $Rules = <<'JSON';
{
  "segments": [ { "name": "esc", "when": { "arg.seg": "esc" } } ],
  "default": "everyone",
  "experiences": {
    "esc": {
      "blocks": {
        "link":  "<a href=\"{{arg.url|/home}}\">go</a>",
        "img":   "<img alt=\"{{arg.alt}}\" src=\"{{arg.x|/x.png}}\">",
        "hello": "<p title='{{arg.t}}'>Hi {{arg.name|friend}}</p>",
        "note":  "<!-- note: {{arg.note}} -->"
      },
      "response_headers": { "X-Name": "{{arg.name|none}}" }
    },
    "everyone": {
      "blocks": { "hero": "<h1 class=\"x\">\"Welcome\"</h1>" }
    }
  }
}
JSON

our $Esc = "<!--persona:link-->\n<!--persona:img-->\n<!--persona:hello-->\n"
           . "<!--persona:note-->\n";

# an app that reflects input into a script, a textarea, an attribute
our $Reflect = <<'HTML';
<html><head><title>q <!--persona:hero--></title>
<script>var q = "<!--persona:hero-->"; var s = "</head>";</script>
<style>/* <!--persona:hero--> */</style>
</head><body>
<textarea><!--persona:hero--></textarea>
<div title="<!--persona:hero-->" data-x='<!--persona:hero-->'><!--persona:hero--></div>
<script><!-- <script></script><!--persona:hero--> --></script>
<p><!--persona:hero--></p>
</body></html>
HTML

our $Layer = '<script>window.persona={"segment":"everyone","segments":[],'
             . '"variants":{}};</script>';

our $ReflectOut = $Reflect;
{
    my $n = 0;
    # only the two markers in element text are slots
    $ReflectOut =~ s{<div title="<!--persona:hero-->" data-x='<!--persona:hero-->'><!--persona:hero--></div>}
                    {<div title="<!--persona:hero-->" data-x='<!--persona:hero-->'><h1 class="x">"Welcome"</h1></div>};
    $ReflectOut =~ s{<p><!--persona:hero--></p>}{<p><h1 class="x">"Welcome"</h1></p>};
    $ReflectOut =~ s{\n</head>}{\n$Layer</head>};
}

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value("http_config",
            "    persona_redis 127.0.0.1:\$TEST_NGINX_REDIS_PORT timeout=2s;\n"
            . "    persona_rules ../html/rules.json;\n");
    }

    if (!defined $block->user_files) {
        $block->set_value("user_files",
            ">>> rules.json\n$Rules>>> esc.html\n$Esc"
            . ">>> reflect.html\n$Reflect");
    }

    if (!defined $block->config) {
        $block->set_value("config", <<'CONF');
    location /p/ {
        persona on;
        persona_data_layer on;
        default_type text/html;
        alias html/;
    }
    location /tiny/ {
        persona on;
        persona_data_layer on;
        default_type text/html;
        sendfile off;
        output_buffers 2 5;
        postpone_output 1;
        alias html/;
    }
CONF
    }
});

no_long_string();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a javascript: URL in href renders as "#"
--- request
GET /p/esc.html?seg=esc&url=javascript:alert(document.cookie)
--- response_body_like: ^<a href="#">go</a>\n
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 2: scheme tricks: case, blanks, an encoded colon, tab inside, data:
--- request eval
[ "GET /p/esc.html?seg=esc&url=JaVaScRiPt%3Aalert(1)",
  "GET /p/esc.html?seg=esc&url=%20%09java%0Ascript:alert(1)",
  "GET /p/esc.html?seg=esc&url=java%01script:alert(1)",
  "GET /p/esc.html?seg=esc&url=data:text/html,x" ]
--- response_body_like eval
[ qr{^<a href="#">go</a>\n}, qr{^<a href="#">go</a>\n},
  qr{^<a href="#">go</a>\n}, qr{^<a href="#">go</a>\n} ]
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 3: http(s), mailto, tel and relative URLs pass, HTML-escaped
--- request eval
[ "GET /p/esc.html?seg=esc&url=https%3A%2F%2Fshop.example%2F%3Fa%3D1%26b%3D%22x",
  "GET /p/esc.html?seg=esc&url=mailto:a\@b.example",
  "GET /p/esc.html?seg=esc&url=tel:15550100",
  "GET /p/esc.html?seg=esc&url=/sale?c=%3Cb%3E",
  "GET /p/esc.html?seg=esc" ]
--- response_body_like eval
[ qr{^<a href="https://shop\.example/\?a=1&amp;b=&quot;x">go</a>\n},
  qr{^<a href="mailto:a\@b\.example">go</a>\n},
  qr{^<a href="tel:15550100">go</a>\n},
  qr{^<a href="/sale\?c=&lt;b&gt;">go</a>\n},
  qr{^<a href="/home">go</a>\n} ]
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 4: a value cannot leave its quoted attribute
--- request
GET /p/esc.html?seg=esc&x=x%20onerror%3Dalert(1)&alt=%22%20onerror%3D%22alert(1)&t=%27%3E%3Cscript%3E
--- response_body
<a href="/home">go</a>
<img alt="&quot; onerror=&quot;alert(1)" src="x onerror=alert(1)">
<p title='&#39;&gt;&lt;script&gt;'>Hi friend</p>
<!-- note:  -->
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 5: a value cannot end a comment
--- request
GET /p/esc.html?seg=esc&note=--!%3E%3Cscript%3Ealert(1)%3C/script%3E
--- response_body_like: \n<!-- note: &#45;&#45;&#33;&gt;&lt;script&gt;alert\(1\)&lt;/script&gt; -->\n$
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 6: blank or control-only values take the fallback, in blocks and headers
--- request
GET /p/esc.html?seg=esc&name=%20%01%7F%09%20
--- response_body_like: <p title=''>Hi friend</p>
--- response_headers
X-Name: none
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 7: invalid UTF-8 and control bytes are dropped from values
--- request
GET /p/esc.html?seg=esc&name=a%01b%FFc%7Fd%C3%A9%0De%C0%AF
--- response_body_like: <p title=''>Hi abcd\x{c3}\x{a9}e</p>
--- raw_response_headers_like: X-Name: abcd\x{c3}\x{a9}e\r\n
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 8: markers count only in element text; the data layer goes before the real </head>
--- request
GET /p/reflect.html
--- response_body eval: $main::ReflectOut
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 9: the same page in 5-byte pieces
--- request
GET /tiny/reflect.html
--- response_body eval: $main::ReflectOut
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 10: a reflected marker in a script string summons nothing
--- config
    location /app {
        persona on;
        default_type text/html;
        return 200 '<p><!--persona:hero--></p><script>var q = "$arg_q";</script>';
    }
--- request
GET /app?q=<!--persona:hero-->
--- response_body_like: ^<p><h1 class="x">"Welcome"</h1></p><script>var q = "<!--persona:hero-->";</script>$
--- no_error_log
[error]
[alert]
[emerg]
