//! Every service, method, message, field, enum and enum value of `onsite.v1` carries a comment,
//! so generated clients in any language get documentation.

use std::collections::HashSet;

use prost::Message;
use prost_types::{DescriptorProto, EnumDescriptorProto, FileDescriptorSet};

// Field numbers of descriptor.proto, which name the paths in SourceCodeInfo.
const FILE_MESSAGE: i32 = 4;
const FILE_ENUM: i32 = 5;
const FILE_SERVICE: i32 = 6;
const MESSAGE_FIELD: i32 = 2;
const MESSAGE_NESTED: i32 = 3;
const MESSAGE_ENUM: i32 = 4;
const ENUM_VALUE: i32 = 2;
const SERVICE_METHOD: i32 = 2;

#[test]
fn every_element_of_the_contract_is_documented() {
    let set = FileDescriptorSet::decode(onsite_proto::FILE_DESCRIPTOR_SET).unwrap_or_else(|e| panic!("{e}"));
    let mut undocumented = Vec::new();
    let mut files = 0;
    for file in set.file.iter().filter(|f| f.name().starts_with("onsite/")) {
        files += 1;
        let documented: HashSet<Vec<i32>> = file
            .source_code_info
            .iter()
            .flat_map(|info| &info.location)
            .filter(|l| l.leading_comments.as_deref().is_some_and(|c| !c.trim().is_empty()))
            .map(|l| l.path.clone())
            .collect();
        let mut check = |path: Vec<i32>, name: String| {
            if !documented.contains(&path) {
                undocumented.push(format!("{}: {name}", file.name()));
            }
        };
        for (i, message) in file.message_type.iter().enumerate() {
            walk_message(message, vec![FILE_MESSAGE, i as i32], message.name(), &mut check);
        }
        for (i, e) in file.enum_type.iter().enumerate() {
            walk_enum(e, vec![FILE_ENUM, i as i32], e.name(), &mut check);
        }
        for (i, service) in file.service.iter().enumerate() {
            let path = vec![FILE_SERVICE, i as i32];
            check(path.clone(), service.name().to_owned());
            for (j, method) in service.method.iter().enumerate() {
                check(
                    [path.as_slice(), &[SERVICE_METHOD, j as i32]].concat(),
                    format!("{}.{}", service.name(), method.name()),
                );
            }
        }
    }
    assert!(files >= 9, "the descriptor set holds {files} onsite files");
    assert!(undocumented.is_empty(), "undocumented: {undocumented:#?}");
}

fn walk_message(message: &DescriptorProto, path: Vec<i32>, name: &str, check: &mut impl FnMut(Vec<i32>, String)) {
    check(path.clone(), name.to_owned());
    for (j, field) in message.field.iter().enumerate() {
        check([path.as_slice(), &[MESSAGE_FIELD, j as i32]].concat(), format!("{name}.{}", field.name()));
    }
    for (j, nested) in message.nested_type.iter().enumerate() {
        let nested_name = format!("{name}.{}", nested.name());
        walk_message(nested, [path.as_slice(), &[MESSAGE_NESTED, j as i32]].concat(), &nested_name, check);
    }
    for (j, e) in message.enum_type.iter().enumerate() {
        walk_enum(e, [path.as_slice(), &[MESSAGE_ENUM, j as i32]].concat(), &format!("{name}.{}", e.name()), check);
    }
}

fn walk_enum(e: &EnumDescriptorProto, path: Vec<i32>, name: &str, check: &mut impl FnMut(Vec<i32>, String)) {
    check(path.clone(), name.to_owned());
    for (j, value) in e.value.iter().enumerate() {
        check([path.as_slice(), &[ENUM_VALUE, j as i32]].concat(), format!("{name}.{}", value.name()));
    }
}
